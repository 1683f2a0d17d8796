"""Alembic environment and versions; run them with `wallet-analytics migrate`."""
