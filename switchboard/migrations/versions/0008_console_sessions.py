"""console_sessions: console sign-ins kept server-side

The console's cookie is signed but client-side, so only a row on the server can end a session
for good. Each sign-in has a row here (keyed by a hash of the random id in the cookie);
sign-out deletes it, and a row older than 12 hours no longer counts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
                    sa.Column('id', sa.String(length=64), nullable=False),
                    sa.Column('signed_in_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('console_sessions')
