"""Switchboard: receives SMS providers\x27 callbacks, stores each once, fans them out."""
