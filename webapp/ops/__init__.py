"""What operators use: /live and /ready, /metrics and request logs, the admin endpoints."""
