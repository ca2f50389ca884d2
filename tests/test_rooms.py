"""The rooms hold: SQL is written only in store/ (and the schema in models/, migrations), and
nothing outside store/ asks which database it is on. A statement built elsewhere would be a
second place to look when a query is slow or a dialect differs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "switchboard"
# What builds a statement: SQLAlchemy Core's constructors and raw SQL.
BUILDERS = {"select", "insert", "update", "delete", "text", "func", "exists", "bindparam",
            "tuple_", "and_", "or_", "not_", "literal", "literal_column", "case", "cast",
            "null", "union_all", "column", "table"}
# What runs SQL without a builder: a string on the driver, or a table's own insert().
RAW = {"exec_driver_sql", "__table__"}
SCHEMA = ("store", "models", "migrations")


def _modules(outside: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in outside)


def _builder_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"from {node.module} import {a.name}" for a in node.names
                      if a.name in BUILDERS]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in {"sa", "sqlalchemy"} and node.attr in BUILDERS:
            found.append(f"{node.value.id}.{node.attr}")
    found += [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr in RAW]
    return found


def _dialect_questions(tree: ast.AST) -> list[str]:
    return [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in {"dialect", "dialect_name"}]


@pytest.mark.parametrize("path", _modules(SCHEMA), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_statements_are_built_only_in_store(path):
    assert _builder_imports(ast.parse(path.read_text())) == []


@pytest.mark.parametrize("path", _modules(("store", "migrations")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_store_asks_which_database(path):
    assert _dialect_questions(ast.parse(path.read_text())) == []


def test_the_checks_see_a_statement_and_a_dialect_question():
    tree = ast.parse("from sqlalchemy import select, Connection\n"
                     "def f(conn):\n    return conn.dialect.name\n"
                     "def g(conn):\n    conn.exec_driver_sql('DELETE FROM events')\n")
    assert _builder_imports(tree) == ["from sqlalchemy import select", "line 5: .exec_driver_sql"]
    assert _dialect_questions(tree) == ["line 3: .dialect"]
