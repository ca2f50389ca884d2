"""Settings: defaults from the design, read from SWITCHBOARD_* variables, validated once."""

from switchboard.config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
