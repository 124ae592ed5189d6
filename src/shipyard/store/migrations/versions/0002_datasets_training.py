"""Dataset versions, and each model version's reference profile and training record.

Revision ID: 0002_datasets_training
Revises: 0001_registry
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0002_datasets_training"
down_revision = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(NAME_LENGTH), nullable=False, unique=True),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(NAME_LENGTH), nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("contract", JSONDocument, nullable=False),
        sa.Column("profile", JSONDocument, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("notes", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(NAME_LENGTH), nullable=False),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
        sa.UniqueConstraint("dataset_id", "sha256", name="uq_dataset_versions_dataset_sha256"),
    )
    op.create_index("ix_dataset_versions_dataset_id", "dataset_versions", ["dataset_id"])
    op.create_index("ix_dataset_versions_sha256", "dataset_versions", ["sha256"])
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("profile", JSONDocument, nullable=True))
        batch.add_column(sa.Column("training", JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("training")
        batch.drop_column("profile")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
