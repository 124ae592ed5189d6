"""Monitoring: each monitored window's report, and its figures as a time series.

Revision ID: 0005_monitoring
Revises: 0004_feedback
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0005_monitoring"
down_revision = "0004_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("report", JSONDocument, nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "model_id", "version", "window_seconds", "window_start", name="uq_monitor_windows_window"
        ),
    )
    op.create_table(
        "monitor_points",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "window_id", sa.Integer(), sa.ForeignKey("monitor_windows.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("metric", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("column", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
    )
    op.create_index(
        "ix_monitor_points_series", "monitor_points", ["model_id", "metric", "window_seconds", "window_start"]
    )
    op.create_index("ix_monitor_points_window", "monitor_points", ["window_id"])


def downgrade() -> None:
    op.drop_table("monitor_points")
    op.drop_table("monitor_windows")
