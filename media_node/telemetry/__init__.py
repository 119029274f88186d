"""What an operator sees of a node: JSON logs, Prometheus metrics, health and readiness."""
