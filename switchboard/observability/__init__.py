"""What an operator watches: Prometheus metrics, JSON logs, health and readiness."""
