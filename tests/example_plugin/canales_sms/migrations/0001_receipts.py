"""receipts

Revision ID: sms_0001
Revises: 
Create Date: 2026-11-28 13:56:15.436314
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import canales.core.db


revision = 'sms_0001'
down_revision = None
branch_labels = ('sms',)
depends_on = 'core'


def upgrade() -> None:
    op.create_table('sms_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('gateway_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('received_at', canales.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_sms_receipt_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_receipt'))
    )
    with op.batch_alter_table('sms_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_receipt_gateway_id'), ['gateway_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sms_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_receipt_gateway_id'))

    op.drop_table('sms_receipt')
