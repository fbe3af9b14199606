"""Prefect integration for jobrelay."""
