"""Alembic migrations of the store; run by Store on open, never by hand."""
