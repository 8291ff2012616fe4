"""Alembic environment: the Store hands us its open connection; nothing is read from an ini file."""

from alembic import context

from secbase._store_schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
