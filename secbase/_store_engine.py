"""Where the store is and how to connect to it: its URL, the engine (with SQLite's settings), the URL as shown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from secbase.errors import StoreError


def default_db_url() -> str:
    """SECBASE_DB if set, else a SQLite file in the user's data directory."""
    env = os.environ.get("SECBASE_DB")
    if env:
        return db_url(env)
    return db_url(str(Path(platformdirs.user_data_dir("secbase")) / "secbase.db"))


def db_url(value: str | None) -> str:
    """Accept a SQLAlchemy URL ("sqlite:///x.db", "postgresql://...") or a plain file path; None (no --db
    given) is the default store."""
    if not value:
        return default_db_url()
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def store_exists(url: str) -> bool:
    """False only for a SQLite file that is not there yet (opening a store creates it)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return True  # opening it says what is wrong
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


def _engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"{url!r} is not a database URL; give a file path or sqlite:///path/to/secbase.db"
        ) from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for the store {path}: {exc.strerror}") from exc
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use the store at {_safe(url)}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")  # a cron scan and a person's "findings" may meet
    cur.close()


def _safe(url: str) -> str:
    """The URL without its password: secrets are never printed."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unreadable URL>"
