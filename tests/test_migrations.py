"""The Alembic migrations and the models describe one schema, and they go down and up."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from switchboard.models import Base
from switchboard.models.migrate import alembic_config, is_current, upgrade
from switchboard.store.db import make_engine


def test_models_match_the_migrated_schema(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_nothing_and_up_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not is_current(engine)
    upgrade(engine)
    assert is_current(engine)
    engine.dispose()


def test_messages_long_waiting_before_the_upgrade_get_no_stale_overdue_event(database_url,
                                                                            frozen_clock):
    """Migration 0010 marks a message still waiting for more than a day as overdue already,
    so the workers' first check after an upgrade does not flood subscribers; a recent one,
    and every final one, stay as they were."""
    from datetime import timedelta

    from sqlalchemy import text

    engine = make_engine(database_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    now = frozen_clock()
    rows = [("msg_old_sent", "sent", 30, now - timedelta(days=3)),
            ("msg_new_sent", "sent", 30, now - timedelta(hours=2)),
            ("msg_old_done", "delivered", 100, now - timedelta(days=3))]
    with engine.begin() as conn:
        for message_id, status, rank, updated_at in rows:
            conn.execute(text(
                "INSERT INTO message_status (vendor, message_id, status, rank, event_id, "
                "updated_at) VALUES ('honkio', :m, :s, :r, 'evt_x', :u)"),
                {"m": message_id, "s": status, "r": rank,
                 "u": updated_at if engine.dialect.name == "postgresql"
                 else updated_at.replace(tzinfo=None).isoformat(" ", "microseconds")})
    upgrade(engine)
    with engine.connect() as conn:
        marked = dict(conn.execute(text(
            "SELECT message_id, overdue_at IS NOT NULL FROM message_status")).all())
    engine.dispose()
    assert marked == {"msg_old_sent": True, "msg_new_sent": False, "msg_old_done": False}
