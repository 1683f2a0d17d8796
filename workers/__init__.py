"""Dramatiq broker, actors, the scheduler process and the `wallet-analytics` CLI."""
