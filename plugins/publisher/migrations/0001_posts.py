"""posts targets events recurrences

Revision ID: publisher_0001
Revises: 
Create Date: 2026-11-28 14:01:19.086932
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'publisher_0001'
down_revision = None
branch_labels = ('publisher',)
depends_on = 'core'


def upgrade() -> None:
    op.create_table('publisher_recurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('starts_local', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['agent.id'], name=op.f('fk_publisher_recurrence_author_id_agent')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_publisher_recurrence_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publisher_recurrence'))
    )
    with op.batch_alter_table('publisher_recurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publisher_recurrence_site_id'), ['site_id'], unique=False)

    op.create_table('publisher_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('publish_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('lease_until', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('published_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recurrence_id', sa.Integer(), nullable=True),
    sa.Column('occurrence', sa.Date(), nullable=True),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['agent.id'], name=op.f('fk_publisher_post_approved_by_id_agent')),
    sa.ForeignKeyConstraint(['author_id'], ['agent.id'], name=op.f('fk_publisher_post_author_id_agent')),
    sa.ForeignKeyConstraint(['recurrence_id'], ['publisher_recurrence.id'], name=op.f('fk_publisher_post_recurrence_id_publisher_recurrence')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_publisher_post_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publisher_post')),
    sa.UniqueConstraint('key', name=op.f('uq_publisher_post_key')),
    sa.UniqueConstraint('recurrence_id', 'occurrence', name=op.f('uq_publisher_post_recurrence_id_occurrence')),
    sa.UniqueConstraint('site_id', 'source_key', name=op.f('uq_publisher_post_site_id_source_key'))
    )
    with op.batch_alter_table('publisher_post', schema=None) as batch_op:
        batch_op.create_index('ix_publisher_post_due', ['state', 'publish_at'], unique=False)
        batch_op.create_index('ix_publisher_post_next', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_publisher_post_site_time', ['site_id', 'publish_at'], unique=False)

    op.create_table('publisher_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('previous', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_publisher_event_agent_id_agent')),
    sa.ForeignKeyConstraint(['post_id'], ['publisher_post.id'], name=op.f('fk_publisher_event_post_id_publisher_post')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_publisher_event_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publisher_event'))
    )
    with op.batch_alter_table('publisher_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publisher_event_post_id'), ['post_id'], unique=False)

    op.create_table('publisher_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('published_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['publisher_post.id'], name=op.f('fk_publisher_target_post_id_publisher_post')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_publisher_target_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publisher_target')),
    sa.UniqueConstraint('post_id', 'channel', name=op.f('uq_publisher_target_post_id_channel'))
    )
    with op.batch_alter_table('publisher_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publisher_target_post_id'), ['post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('publisher_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publisher_target_post_id'))

    op.drop_table('publisher_target')
    with op.batch_alter_table('publisher_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publisher_event_post_id'))

    op.drop_table('publisher_event')
    with op.batch_alter_table('publisher_post', schema=None) as batch_op:
        batch_op.drop_index('ix_publisher_post_site_time')
        batch_op.drop_index('ix_publisher_post_next')
        batch_op.drop_index('ix_publisher_post_due')

    op.drop_table('publisher_post')
    with op.batch_alter_table('publisher_recurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publisher_recurrence_site_id'))

    op.drop_table('publisher_recurrence')
