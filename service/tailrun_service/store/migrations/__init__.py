"""Alembic migrations of the store (run by tailrun_service.store.migrate)."""
