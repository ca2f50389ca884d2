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
