"""Alerts: rules added through the API, the state of every alert, its history, deliveries, actions and
silences.

Revision ID: 0006_alerts
Revises: 0005_monitoring
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0006_alerts"
down_revision = "0005_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("document", JSONDocument, nullable=False),
        sa.Column("created_by", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alert_states",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(NAME_LENGTH), nullable=False, index=True),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("last_notified_at", UTCDateTime(), nullable=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("details", JSONDocument, nullable=False),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(32), nullable=False, index=True),
        sa.Column("rule", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("silenced_by", sa.Integer(), nullable=True),
        sa.Column("details", JSONDocument, nullable=False),
    )
    op.create_index("ix_alert_events_rule_time", "alert_events", ["rule", "at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("alert_events.id", ondelete="CASCADE"),
            nullable=True,
            index=True,
        ),
        sa.Column("channel", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alert_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("alert_events.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("rule", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alert_actions_cooldown", "alert_actions", ["rule", "model", "action", "at"])
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("matchers", JSONDocument, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("created_by", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_silences",
        "alert_actions",
        "alert_deliveries",
        "alert_events",
        "alert_states",
        "alert_rules",
    ):
        op.drop_table(table)
