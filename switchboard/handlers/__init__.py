"""In-process event handlers: the registry and the built-in ones (see the fan-out issue)."""
