"""owed fan-out: events.fanout_owed, and one non-replay delivery per event and target

Ingest no longer writes delivery rows: it marks each new event that owes a fan-out
(fanout_owed, true until a worker expands it, then NULL; NULL on every older event, whose
rows older code wrote at ingest). The partial index holds only the owed events, so it
stays as small as the backlog and a worker finds them without reading the table.

A worker expands an owed event into its delivery rows in the transaction that clears the
mark; the two partial unique indexes make a second expansion of one event impossible,
whatever races or crashes (replays are new rows on purpose and stay outside them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OWED = sa.text("fanout_owed IS NOT NULL")
TO_SUBSCRIPTION = sa.text("NOT replay AND subscription_id IS NOT NULL")
TO_HANDLER = sa.text("NOT replay AND handler IS NOT NULL")


def upgrade() -> None:
    op.add_column('events', sa.Column('fanout_owed', sa.Boolean(), nullable=True))
    op.create_index('ix_events_fanout_owed', 'events', ['id'],
                    postgresql_where=OWED, sqlite_where=OWED)
    op.create_index('ux_deliveries_event_subscription', 'deliveries',
                    ['event_id', 'subscription_id'], unique=True,
                    postgresql_where=TO_SUBSCRIPTION, sqlite_where=TO_SUBSCRIPTION)
    op.create_index('ux_deliveries_event_handler', 'deliveries', ['event_id', 'handler'],
                    unique=True, postgresql_where=TO_HANDLER, sqlite_where=TO_HANDLER)


def downgrade() -> None:
    op.drop_index('ux_deliveries_event_handler', table_name='deliveries')
    op.drop_index('ux_deliveries_event_subscription', table_name='deliveries')
    op.drop_index('ix_events_fanout_owed', table_name='events')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('fanout_owed')
