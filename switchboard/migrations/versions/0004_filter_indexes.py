"""an index for every admin filter, in the order the lists are read

Event lists are read newest first by (received_at, id) under one equality filter; an
index on (filter column, received_at, id) lets PostgreSQL walk it backwards and stop after
one page instead of sorting every match. Deliveries by subscription likewise.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_events_received', table_name='events')
    op.create_index('ix_events_received_id', 'events', ['received_at', 'id'])
    op.create_index('ix_events_vendor_received', 'events', ['vendor', 'received_at', 'id'])
    op.create_index('ix_events_type_received', 'events', ['type', 'received_at', 'id'])
    op.create_index('ix_events_status_received', 'events', ['status', 'received_at', 'id'])
    op.create_index('ix_deliveries_created', 'deliveries', ['created_at', 'id'])
    op.create_index('ix_deliveries_subscription_created', 'deliveries',
                    ['subscription_id', 'created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_subscription_created', table_name='deliveries')
    op.drop_index('ix_deliveries_created', table_name='deliveries')
    op.drop_index('ix_events_status_received', table_name='events')
    op.drop_index('ix_events_type_received', table_name='events')
    op.drop_index('ix_events_vendor_received', table_name='events')
    op.drop_index('ix_events_received_id', table_name='events')
    op.create_index('ix_events_received', 'events', ['received_at'])
