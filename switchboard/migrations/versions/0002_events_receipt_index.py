"""index events.receipt_id, for purge

Deleting a receipt makes the database look up its events (the foreign key cascades), and
purge asks which receipts no event points to: without this index each is a full scan of
events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_receipt', 'events', ['receipt_id'])


def downgrade() -> None:
    op.drop_index('ix_events_receipt', table_name='events')
