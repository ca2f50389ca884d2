"""Drop ix_events_vendor_message: ix_events_message answers the same lookups

Every callback wrote one more index entry for it. A message's history is looked up by vendor
and message id, and message ids are all but unique across vendors, so the plain message_id
index (0003) finds the same rows; tests/test_query_plans.py checks that the history query
still uses an index with a million events stored.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_events_vendor_message', table_name='events')


def downgrade() -> None:
    op.create_index('ix_events_vendor_message', 'events', ['vendor', 'message_id'])
