"""The drift figure ``<prefix>.score`` is retired: it was a p-value (low = drift) in windows of 1,000 rows or
fewer and a distance (high = drift) in larger ones. Windows now store ``<prefix>.p_value`` when a test decided
and ``<prefix>.distance`` when a distance did (``prefix``: ``drift`` or ``output_drift``).

Stored figures are renamed by what they were: a score equal to the same window's and column's KS or χ²
p-value was the p-value, any other the distance. Alert rules added through the CLI or API are moved to the
figure their condition meant: ``above`` read the score as a distance, ``below`` as a p-value. A rule with
``outside`` could mean either and is left as it is: loading it is refused with a message saying what to use.
Rules in ``shipyard.toml`` are the user's file, never rewritten: they are refused the same way.

Revision ID: 0009_drift_figures
Revises: 0008_schedules
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import JSONDocument

revision = "0009_drift_figures"
down_revision = "0008_schedules"
branch_labels = None
depends_on = None

PREFIXES = ("drift", "output_drift")
_points = sa.table(
    "monitor_points",
    sa.column("window_id", sa.Integer),
    sa.column("metric", sa.String),
    sa.column("column", sa.String),
    sa.column("value", sa.Float),
)
_rules = sa.table("alert_rules", sa.column("name", sa.String), sa.column("document", JSONDocument))


def upgrade() -> None:
    connection = op.get_bind()
    for prefix in PREFIXES:
        other = _points.alias("other")
        was_a_p_value = (
            sa.select(sa.literal(1))
            .where(other.c.window_id == _points.c.window_id)
            .where(other.c.column == _points.c.column)
            .where(other.c.metric.in_([f"{prefix}.ks_p_value", f"{prefix}.chi_square_p_value"]))
            .where(other.c.value == _points.c.value)
            .exists()
        )
        score = _points.c.metric == f"{prefix}.score"
        connection.execute(sa.update(_points).where(score, was_a_p_value).values(metric=f"{prefix}.p_value"))
        connection.execute(sa.update(_points).where(score).values(metric=f"{prefix}.distance"))
    _move_rules(connection, _upgraded)


def downgrade() -> None:
    connection = op.get_bind()
    for prefix in PREFIXES:
        named = _points.c.metric.in_([f"{prefix}.p_value", f"{prefix}.distance"])
        connection.execute(sa.update(_points).where(named).values(metric=f"{prefix}.score"))
    _move_rules(connection, _downgraded)


def _move_rules(connection: sa.Connection, figure_of: Any) -> None:
    for name, document in connection.execute(sa.select(_rules.c.name, _rules.c.document)).all():
        figure = figure_of(document)
        if figure != document.get("figure"):
            changed = {**document, "figure": figure}
            connection.execute(sa.update(_rules).where(_rules.c.name == name).values(document=changed))


def _upgraded(document: dict[str, Any]) -> Any:
    figure = document.get("figure")
    prefix, _, name = str(figure).partition(".")
    if prefix not in PREFIXES or name != "score":
        return figure
    if document.get("above") is not None:
        return f"{prefix}.distance"
    if document.get("below") is not None:
        return f"{prefix}.p_value"
    return figure


def _downgraded(document: dict[str, Any]) -> Any:
    figure = document.get("figure")
    prefix, _, name = str(figure).partition(".")
    return f"{prefix}.score" if prefix in PREFIXES and name in ("p_value", "distance") else figure
