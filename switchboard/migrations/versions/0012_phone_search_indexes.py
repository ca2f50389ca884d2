"""phone search: events by data.to and by data.from, newest first

The console finds every event to or from one number (E.164). Each index is on the JSON
field's text and then (received_at, id), so a search walks one index backwards per side
and stops after a page, whatever the number's volume (a sender id shared by every outbound
message has hundreds of thousands). The expression reads the same on PostgreSQL and on SQLite
(3.38 and newer), and a query must write it exactly so for the index to serve it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None



def _party(name: str) -> str:
    # PostgreSQL's ->> fails on a json document holding an escaped NUL anywhere (an inbound
    # text may): such an event is indexed as NULL instead of refused.
    return ("(\nCASE\nWHEN replace(CAST(data AS TEXT), '\\u0000', '') <> CAST(data AS TEXT) "
            f"THEN NULL\nELSE data ->> '{name}'\nEND)")


def upgrade() -> None:
    for name in ('to', 'from'):
        op.create_index(f'ix_events_{name}_received', 'events',
                        [sa.text(_party(name)), 'received_at', 'id'])


def downgrade() -> None:
    for name in ('from', 'to'):
        op.drop_index(f'ix_events_{name}_received', table_name='events')
