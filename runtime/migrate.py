"""Alembic migrations, run programmatically so ``serve`` can upgrade before workers start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from runtime.config import ensure_sqlite_dir

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run from several hosts at once on PostgreSQL."""
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)
