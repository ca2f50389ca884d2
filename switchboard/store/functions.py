"""SQL functions whose spelling differs by database, written once each as a SQLAlchemy
construct compiled per dialect, so a query using them is the same on PostgreSQL and SQLite."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class hour_number(FunctionElement):  # noqa: N801 - read as a SQL function in a query
    """Whole hours since 1970 (UTC) of a UtcDateTime column: an hourly bucket the database
    computes once a row, for GROUP BY, where a CASE per bucket would cost 24 a row."""

    type = BigInteger()
    inherit_cache = True


@compiles(hour_number, "postgresql")
def _hour_number_postgresql(element, compiler, **kw):
    return f"CAST(floor(extract(epoch FROM {compiler.process(element.clauses, **kw)}) / 3600) " \
        "AS BIGINT)"


@compiles(hour_number, "sqlite")
def _hour_number_sqlite(element, compiler, **kw):
    # Stored as naive UTC text (UtcDateTimeType), which strftime reads as UTC.
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 3600)"


class epoch_seconds(FunctionElement):  # noqa: N801 - read as a SQL function in a query
    """Seconds since 1970 (UTC) of a UtcDateTime column, so the database can subtract two
    moments the same way on PostgreSQL and SQLite."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element, compiler, **kw):
    return f"CAST(extract(epoch FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw):
    # julianday keeps the fraction of a second that strftime('%s') drops.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"
