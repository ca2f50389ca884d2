"""Ingest: from a verified callback to its receipt, events, status projection and owed
fan-out mark, in one transaction."""
