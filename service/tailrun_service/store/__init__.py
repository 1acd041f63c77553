"""The storage layer: SQLAlchemy Core schema, Alembic migrations, and the Store (SQLite or PostgreSQL)."""
from .ingest import ApplyResult
from .store import Store

__all__ = ["ApplyResult", "Store"]
