"""Feedback: true labels attached to logged predictions by prediction id.

Revision ID: 0004_feedback
Revises: 0003_gate_runs
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, PREDICTION_ID_LENGTH, UTCDateTime

revision = "0004_feedback"
down_revision = "0003_gate_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("prediction_id", sa.String(PREDICTION_ID_LENGTH), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("predicted_at", UTCDateTime(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(NAME_LENGTH), nullable=False),
    )
    op.create_index("ix_feedback_model_version_time", "feedback", ["model_id", "version", "predicted_at"])


def downgrade() -> None:
    op.drop_table("feedback")
