"""HTTP: inbound webhooks, the admin API, the console, health and metrics; errors as JSON."""
