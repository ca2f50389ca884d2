"""CLI commands, one module per area, gathered by switchboard.cli."""
