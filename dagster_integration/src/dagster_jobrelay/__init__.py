"""Dagster integration for jobrelay."""
