"""chat sessions

Revision ID: chat_human_0001
Revises:
Create Date: 2026-11-28 14:27:29.130027
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'chat_human_0001'
down_revision = None
branch_labels = ('chat_human',)
depends_on = 'core'


def upgrade() -> None:
    op.create_table('chat_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('privacy_accepted_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('citizen_read_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_chat_session_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_chat_session_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_session')),
    sa.UniqueConstraint('key', name=op.f('uq_chat_session_key')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_chat_session_token_hash'))
    )
    with op.batch_alter_table('chat_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_session_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_session_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('chat_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_session_created_at'))
        batch_op.drop_index(batch_op.f('ix_chat_session_conversation_id'))

    op.drop_table('chat_session')
