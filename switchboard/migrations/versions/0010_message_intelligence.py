"""message_status: why it failed, where it went, when its receipts came, and overdue

Ingest keeps, on each message's status row, what the provider scorecard and the overdue
check read, so neither walks the events table:
- reason, permanent: the current failure's (null unless its status is a failure); a failure
  that is not permanent gives way to a later `delivered`;
- country: the other party's ISO 3166 alpha-2;
- first_receipt_at, last_receipt_at: when its first and latest receipts reached us (the
  scorecard's window; the overdue clock);
- accepted_at, delivered_at: the provider's own time of its first accepted or sent receipt
  and of its delivery (time to deliver);
- overdue_at: when a worker made its one message.receipt_overdue event.

ix_message_status_overdue holds only the messages that could still go overdue (not
terminal, not yet overdue), by their latest receipt: the workers' check reads a range of it,
however many messages are stored. ix_message_status_first_receipt serves the scorecard's
window.

Existing rows take updated_at (the time of their latest status change) for both receipt
times: the closest thing stored before. A message still waiting whose latest change is older
than the default timeout (a day) is marked overdue already, without an event: otherwise the
first check after an upgrade would send subscribers one stale message.receipt_overdue for
every old message that never got its final receipt, however long ago.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from switchboard import clock

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
MAY_GO_OVERDUE = sa.text("rank < 100 AND overdue_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table('message_status') as batch:
        batch.add_column(sa.Column('reason', sa.String(32), nullable=True))
        batch.add_column(sa.Column('permanent', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('country', sa.String(2), nullable=True))
        batch.add_column(sa.Column('first_receipt_at', TIME, nullable=True))
        batch.add_column(sa.Column('last_receipt_at', TIME, nullable=True))
        batch.add_column(sa.Column('accepted_at', TIME, nullable=True))
        batch.add_column(sa.Column('delivered_at', TIME, nullable=True))
        batch.add_column(sa.Column('overdue_at', TIME, nullable=True))
    op.execute("UPDATE message_status SET first_receipt_at = updated_at, "
               "last_receipt_at = updated_at")
    status = sa.table('message_status', sa.column('rank', sa.Integer),
                      sa.column('updated_at', TIME), sa.column('overdue_at', TIME))
    long_ago = clock.now() - timedelta(days=1)  # the default SWITCHBOARD_RECEIPT_TIMEOUT
    op.execute(status.update().where(status.c.rank < 100, status.c.updated_at < long_ago)
               .values(overdue_at=status.c.updated_at))
    op.create_index('ix_message_status_overdue', 'message_status', ['last_receipt_at'],
                    postgresql_where=MAY_GO_OVERDUE, sqlite_where=MAY_GO_OVERDUE)
    op.create_index('ix_message_status_first_receipt', 'message_status',
                    ['first_receipt_at'])


def downgrade() -> None:
    op.drop_index('ix_message_status_first_receipt', table_name='message_status')
    op.drop_index('ix_message_status_overdue', table_name='message_status')
    with op.batch_alter_table('message_status') as batch:
        for name in ('overdue_at', 'delivered_at', 'accepted_at', 'last_receipt_at',
                     'first_receipt_at', 'country', 'permanent', 'reason'):
            batch.drop_column(name)
