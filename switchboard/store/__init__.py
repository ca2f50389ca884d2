"""The database's one door: the engine and its transactions, the SQL run outside
SQLAlchemy's expression layer rendered once per dialect, and what differs between SQLite
and PostgreSQL."""
