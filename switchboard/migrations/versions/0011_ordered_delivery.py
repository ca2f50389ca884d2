"""ordered delivery: events.sequence and the per-message counter that assigns it

Each event of a message (vendor, message_id) gets its place in the order Switchboard stored
them: 1 for the first, one more for each later one, NULL without a message id. Ingest takes
the next number from message_sequences in the event's own transaction; on PostgreSQL its
upsert locks the message's counter row, so two receipts of one message committing at once
are numbered in commit order, never both alike. Workers deliver a message's events to each
target in this order.

The index on message_id gains vendor and sequence: the workers' claim looks up the earlier
events of a message by it (with any other index a planner walked the vendor's events).

Existing events are numbered here, in the order they were received (received_at, then id,
which sorts by creation), and each message's counter starts after its last event.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('events', sa.Column('sequence', sa.Integer(), nullable=True))
    op.create_table(
        'message_sequences',
        sa.Column('vendor', sa.String(length=32), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('vendor', 'message_id'),
    )
    # UPDATE ... FROM: PostgreSQL, and SQLite from 3.33 (the worker already needs it).
    op.execute(sa.text(
        "UPDATE events SET sequence = numbered.n FROM ("
        "SELECT id, row_number() OVER (PARTITION BY vendor, message_id "
        "ORDER BY received_at, id) AS n FROM events WHERE message_id IS NOT NULL"
        ") AS numbered WHERE events.id = numbered.id"))
    op.create_index('ix_events_message_sequence', 'events',
                    ['message_id', 'vendor', 'sequence'])
    op.drop_index('ix_events_message', table_name='events')
    op.execute(sa.text(
        "INSERT INTO message_sequences (vendor, message_id, sequence) "
        "SELECT vendor, message_id, max(sequence) FROM events "
        "WHERE message_id IS NOT NULL GROUP BY vendor, message_id"))


def downgrade() -> None:
    op.create_index('ix_events_message', 'events', ['message_id'])
    op.drop_index('ix_events_message_sequence', table_name='events')
    op.drop_table('message_sequences')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('sequence')
