"""inbox

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-28 13:58:33.747519
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_key', ['kind', 'key', 'at'], unique=False)

    op.create_table('agent_availability',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('changed_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_availability_agent_id_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_agent_availability_site_id_site')),
    sa.PrimaryKeyConstraint('agent_id', 'site_id', name=op.f('pk_agent_availability'))
    )
    op.create_table('agent_connection',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_connection_agent_id_agent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_connection'))
    )
    with op.batch_alter_table('agent_connection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_connection_agent_id'), ['agent_id'], unique=False)

    op.create_table('agent_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_session_agent_id_agent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_agent_session_token_hash'))
    )
    with op.batch_alter_table('agent_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_session_agent_id'), ['agent_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hint', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_api_token_agent_id_agent')),
    sa.ForeignKeyConstraint(['created_by'], ['agent.id'], name=op.f('fk_api_token_created_by_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_api_token_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_site_id'), ['site_id'], unique=False)

    op.create_table('canned_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('shortcut', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_canned_answer_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_answer')),
    sa.UniqueConstraint('site_id', 'shortcut', name=op.f('uq_canned_answer_site_id_shortcut'))
    )
    op.create_table('team',
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_team_site_id_site')),
    sa.PrimaryKeyConstraint('site_id', 'key', name=op.f('pk_team'))
    )
    op.create_table('team_member',
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_team_member_agent_id_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_team_member_site_id_site')),
    sa.PrimaryKeyConstraint('site_id', 'team', 'agent_id', name=op.f('pk_team_member'))
    )
    op.create_table('conversation_label',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_conversation_label_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_conversation_label_site_id_site')),
    sa.PrimaryKeyConstraint('conversation_id', 'name', name=op.f('pk_conversation_label'))
    )
    with op.batch_alter_table('conversation_label', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_label_site_name', ['site_id', 'name'], unique=False)

    op.create_table('conversation_read',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('last_read_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_conversation_read_agent_id_agent')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_conversation_read_conversation_id_conversation')),
    sa.PrimaryKeyConstraint('agent_id', 'conversation_id', name=op.f('pk_conversation_read'))
    )
    op.create_table('satisfaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_satisfaction_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_satisfaction_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_satisfaction')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_satisfaction_conversation_id'))
    )
    with op.batch_alter_table('satisfaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_satisfaction_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False))

    # Search: PostgreSQL matches messages with Spanish full-text search through this
    # index (SQLite falls back to LIKE). Written by hand: it exists on one dialect only.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_message_text_fts ON message USING gin (to_tsvector('spanish', text))")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_text_fts")
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('active')

    with op.batch_alter_table('satisfaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_satisfaction_site_id'))

    op.drop_table('satisfaction')
    op.drop_table('conversation_read')
    with op.batch_alter_table('conversation_label', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_label_site_name')

    op.drop_table('conversation_label')
    op.drop_table('team_member')
    op.drop_table('team')
    op.drop_table('canned_answer')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_site_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('agent_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_session_agent_id'))

    op.drop_table('agent_session')
    with op.batch_alter_table('agent_connection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_connection_agent_id'))

    op.drop_table('agent_connection')
    op.drop_table('agent_availability')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_key')

    op.drop_table('login_attempt')
