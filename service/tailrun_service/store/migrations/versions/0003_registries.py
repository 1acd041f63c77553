"""Registries: models (with their files) and environments, versioned 1, 2, 3... per name.

Revision ID: 0003_registries
Revises: 0002_writer_owner
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_registries"
down_revision = "0002_writer_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("run_id", sa.String(255), nullable=False, server_default=sa.text("''")),
        sa.Column("experiment", sa.String(255), nullable=False, server_default=sa.text("''")),
        sa.Column("description", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("tags_json", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("properties_json", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("model_path", sa.String(1024), nullable=False, server_default=sa.text("''")),
        sa.Column("created_time", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False, server_default=sa.text("''")),
    )
    op.create_index("ix_models_run", "models", ["run_id"])
    op.create_table(
        "model_files",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "environments",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("definition_json", sa.Text, nullable=False),
        sa.Column("created_time", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("environments")
    op.drop_table("model_files")
    op.drop_index("ix_models_run", table_name="models")
    op.drop_table("models")
