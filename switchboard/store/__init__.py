"""The database's one room: the engine and its transactions, every statement the app runs
outside migrations (named and described once, a module per concern; the hot path's rendered
once per dialect), what "the database failed" means (db.DATABASE_ERRORS), and what differs
between SQLite and PostgreSQL."""
