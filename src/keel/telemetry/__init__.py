"""Logs, metrics and traces that never carry a secret."""
