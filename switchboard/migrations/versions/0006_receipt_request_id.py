"""receipts.request_id: the id of the request that brought the callback

Kept so that each delivery attempt's log line names the request whose line shows the
callback arriving: one id to follow a receipt from provider to subscriber.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('receipts') as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('receipts') as batch_op:
        batch_op.drop_column('request_id')
