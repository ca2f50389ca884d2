"""Alembic, driven from code: `switchboard db upgrade` and the test fixtures call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_current(engine: Engine) -> bool:
    """True when the database is at this code's newest migration or ahead of it.

    Readiness checks use this. Ahead counts as current because the README says to run
    `switchboard db upgrade` before new code takes traffic: for that moment the old web
    processes still serve, on a schema whose migrations never take away what older code
    reads (they add tables and columns, add or drop indexes). A revision this
    code's script directory does not know was written by newer code, so it is ahead.
    Behind (or never migrated) is not current.
    """
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    with engine.connect() as connection:
        stamped = MigrationContext.configure(connection).get_current_heads()
    return any(_at_or_after(script, revision, head) for revision in stamped)


def _at_or_after(script: ScriptDirectory, revision: str, head: str | None) -> bool:
    try:
        lineage = {rev.revision for rev in script.iterate_revisions(revision, "base")}
    except ResolutionError:  # not one of ours: a newer release's migration
        return True
    return head in lineage
