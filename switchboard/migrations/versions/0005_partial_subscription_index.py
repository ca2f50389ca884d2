"""deliveries by subscription: index only the dead letters

ix_deliveries_subscription_created (subscription_id, created_at, id) covered every delivery.
Every accepted callback writes one outbox row per matching subscription, and an index led
by subscription_id puts each of them on a different leaf page: with 50 subscriptions, 50
pages dirtied (and written to the WAL) per commit, most of the 50-subscription ingest cost
in bench/scale.py. What an operator looks up by subscription is its dead letters
(`GET /api/deliveries?state=dead&subscription_id=`), so only those rows are indexed now;
a subscription filter on other states walks ix_deliveries_state_created or
ix_deliveries_created newest first and stops after one page.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DEAD = sa.text("state = 'dead'")


def upgrade() -> None:
    op.drop_index('ix_deliveries_subscription_created', table_name='deliveries')
    op.create_index('ix_deliveries_subscription_dead', 'deliveries',
                    ['subscription_id', 'created_at', 'id'],
                    postgresql_where=DEAD, sqlite_where=DEAD)


def downgrade() -> None:
    op.drop_index('ix_deliveries_subscription_dead', table_name='deliveries')
    op.create_index('ix_deliveries_subscription_created', 'deliveries',
                    ['subscription_id', 'created_at', 'id'])
