"""What operators see and use: HTTP routes, metrics, logging, housekeeping, shutdown."""
