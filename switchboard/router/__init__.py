"""From a verified callback to stored events: ingest, status projection, signals."""
