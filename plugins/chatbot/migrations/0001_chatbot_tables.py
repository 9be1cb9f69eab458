"""chatbot tables

Revision ID: chatbot_0001
Revises: 
Create Date: 2026-11-28 14:08:59.187332
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'chatbot_0001'
down_revision = None
branch_labels = ('chatbot',)
depends_on = 'core'


def upgrade() -> None:
    op.create_table('chatbot_model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pipeline', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('knowledge_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('examples', sa.JSON(), nullable=False),
    sa.Column('synonyms', sa.JSON(), nullable=False),
    sa.Column('n_examples', sa.Integer(), nullable=False),
    sa.Column('n_intents', sa.Integer(), nullable=False),
    sa.Column('n_added', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('train_seconds', sa.Float(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activated_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_chatbot_model_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chatbot_model')),
    sa.UniqueConstraint('site_id', 'digest', name=op.f('uq_chatbot_model_site_id_digest'))
    )
    with op.batch_alter_table('chatbot_model', schema=None) as batch_op:
        batch_op.create_index('ix_chatbot_model_active', ['site_id', 'active'], unique=False)

    op.create_table('chatbot_session',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('lease_token', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('lease_until', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_chatbot_session_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_chatbot_session_site_id_site')),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_chatbot_session'))
    )
    op.create_table('chatbot_turn',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('second_intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('second_confidence', sa.Float(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('feedback', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('feedback_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('review', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('reviewed_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('assigned_intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_chatbot_turn_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_chatbot_turn_message_id_message')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['agent.id'], name=op.f('fk_chatbot_turn_reviewed_by_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_chatbot_turn_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chatbot_turn')),
    sa.UniqueConstraint('message_id', name=op.f('uq_chatbot_turn_message_id'))
    )
    with op.batch_alter_table('chatbot_turn', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chatbot_turn_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_chatbot_turn_review', ['site_id', 'review', 'created_at'], unique=False)
        batch_op.create_index('ix_chatbot_turn_site_created', ['site_id', 'created_at'], unique=False)

    op.create_table('chatbot_example',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('normalized', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('turn_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['agent.id'], name=op.f('fk_chatbot_example_created_by_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_chatbot_example_site_id_site')),
    sa.ForeignKeyConstraint(['turn_id'], ['chatbot_turn.id'], name=op.f('fk_chatbot_example_turn_id_chatbot_turn')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chatbot_example')),
    sa.UniqueConstraint('site_id', 'normalized', name=op.f('uq_chatbot_example_site_id_normalized'))
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table('chatbot_example')
    with op.batch_alter_table('chatbot_turn', schema=None) as batch_op:
        batch_op.drop_index('ix_chatbot_turn_site_created')
        batch_op.drop_index('ix_chatbot_turn_review')
        batch_op.drop_index(batch_op.f('ix_chatbot_turn_conversation_id'))

    op.drop_table('chatbot_turn')
    op.drop_table('chatbot_session')
    with op.batch_alter_table('chatbot_model', schema=None) as batch_op:
        batch_op.drop_index('ix_chatbot_model_active')

    op.drop_table('chatbot_model')
    # ### end Alembic commands ###
