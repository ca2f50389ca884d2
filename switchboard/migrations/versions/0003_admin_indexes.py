"""indexes the admin API's queries need

Dead letters are listed by state, newest first (`GET /api/deliveries?state=dead`): without
(state, created_at) that is a scan of every delivery ever made. Events are filtered by
message_id alone (`GET /api/events?message_id=`), which ix_events_vendor_message only
serves when the vendor is given too. The rest of the filters are a later issue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_deliveries_state_created', 'deliveries', ['state', 'created_at', 'id'])
    op.create_index('ix_events_message', 'events', ['message_id'])


def downgrade() -> None:
    op.drop_index('ix_events_message', table_name='events')
    op.drop_index('ix_deliveries_state_created', table_name='deliveries')
