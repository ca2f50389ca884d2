"""Pollers: providers that do not call us, listed on a schedule and fed through ingest."""
