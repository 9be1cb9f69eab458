"""facebook tables

Revision ID: facebook_0001
Revises: 
Create Date: 2026-11-28 14:01:53.147532
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'facebook_0001'
down_revision = None
branch_labels = ('facebook',)
depends_on = 'core'


def upgrade() -> None:
    op.create_table('facebook_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('delivery_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_object_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facebook_object')),
    sa.UniqueConstraint('site_id', 'external_id', name=op.f('uq_facebook_object_site_id_external_id'))
    )
    with op.batch_alter_table('facebook_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facebook_object_delivery_key'), ['delivery_key'], unique=False)

    op.create_table('facebook_page',
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('reconnect_needed', sa.Boolean(), nullable=False),
    sa.Column('blocked_until', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('throttled_until', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed', sa.Boolean(), nullable=False),
    sa.Column('usage', sa.JSON(), nullable=False),
    sa.Column('checked_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_page_site_id_site')),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_facebook_page'))
    )
    op.create_table('facebook_webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processed_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_webhook_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facebook_webhook')),
    sa.UniqueConstraint('site_id', 'digest', name=op.f('uq_facebook_webhook_site_id_digest'))
    )
    with op.batch_alter_table('facebook_webhook', schema=None) as batch_op:
        batch_op.create_index('ix_facebook_webhook_pending', ['state', 'received_at'], unique=False)

    op.create_table('facebook_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('event', sa.JSON(), nullable=False),
    sa.Column('occurred_at', canales.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_event_site_id_site')),
    sa.ForeignKeyConstraint(['webhook_id'], ['facebook_webhook.id'], name=op.f('fk_facebook_event_webhook_id_facebook_webhook'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facebook_event'))
    )
    with op.batch_alter_table('facebook_event', schema=None) as batch_op:
        batch_op.create_index('ix_facebook_event_object', ['site_id', 'object_id'], unique=False)

    op.create_table('facebook_ack',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('acked_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_facebook_ack_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_ack_site_id_site')),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_facebook_ack'))
    )
    op.create_table('facebook_private_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('comment_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('delivery_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('mid', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('notice_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('created_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_facebook_private_reply_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_facebook_private_reply_message_id_message')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_facebook_private_reply_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facebook_private_reply')),
    sa.UniqueConstraint('site_id', 'comment_id', name=op.f('uq_facebook_private_reply_site_id_comment_id'))
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table('facebook_private_reply')
    op.drop_table('facebook_ack')
    with op.batch_alter_table('facebook_event', schema=None) as batch_op:
        batch_op.drop_index('ix_facebook_event_object')

    op.drop_table('facebook_event')
    with op.batch_alter_table('facebook_webhook', schema=None) as batch_op:
        batch_op.drop_index('ix_facebook_webhook_pending')

    op.drop_table('facebook_webhook')
    op.drop_table('facebook_page')
    with op.batch_alter_table('facebook_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facebook_object_delivery_key'))

    op.drop_table('facebook_object')
    # ### end Alembic commands ###
