"""The current alias holder's side of a gate: its predictions on the candidate's evaluation rows, or the
reason it cannot give them.

A champion trained on another schema (a renamed column, a category that used to be a number), an artifact
that no longer loads, or a model that raises on these rows is not a crash of the gate: it makes the
comparison "not comparable", and the policy decides whether that fails the gate or is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.contracts import Contract
from shipyard.errors import ShipyardError
from shipyard.gates.evaluation import Scored, rows_accepted
from shipyard.registry import ModelVersion, Registry

_REASON_LIMIT = 300


@dataclass(frozen=True)
class ChampionScores:
    """The champion's predictions on ``rows`` (positions in the candidate's rows), or why there are none."""

    scored: Scored | None
    rows: np.ndarray
    reason: str = ""
    left_out: int = 0  # rows its contract refused, left out of the paired comparison


def score_champion(
    registry: Registry,
    champion: ModelVersion,
    frame: pd.DataFrame,
    target: np.ndarray,
    task: str,
    *,
    candidate_features: Sequence[str],
    metrics: Sequence[str],
) -> ChampionScores:
    """Score ``champion`` on the rows its contract accepts and prove the compared ``metrics`` compute."""
    ref = champion.ref
    accepted = rows_accepted(champion.input_schema, frame)
    if accepted.whole:
        return _not_comparable(f"{ref}'s contract rejects the evaluation data ({accepted.summary})")
    rows = np.flatnonzero(accepted.usable)
    if len(rows) == 0:
        return _not_comparable(f"no evaluation row meets {ref}'s contract ({accepted.summary})")
    recorded = _recorded_features(champion)
    features = recorded or [str(name) for name in candidate_features]
    guessed = "" if recorded else " (it records no input columns, so it was given those of the candidate)"
    missing = [name for name in features if name not in frame.columns]
    if missing:
        columns = ", ".join(missing)
        return _not_comparable(f"the evaluation data has no column(s) {columns}, which {ref} takes")
    try:
        model = registry.load_model(ref)
    except Exception as exc:  # any failure to load is a reason, not a crash: the candidate is judged anyway
        return _not_comparable(f"{ref} cannot be loaded: {_describe(exc)}")
    try:
        scored = Scored.score(model, frame.iloc[rows][features], task)
        for name in metrics:  # predictions of another kind (labels vs values) fail here, not mid-check
            scored.metric(name, target[rows])
    except Exception as exc:  # the model's own error, whatever its type
        return _not_comparable(f"{ref} failed to predict on the evaluation rows{guessed}: {_describe(exc)}")
    return ChampionScores(scored, rows, left_out=accepted.left_out)


def _recorded_features(champion: ModelVersion) -> list[str]:
    """The input columns the champion was trained on: its training record, its own names, or its contract."""
    report = (champion.training or {}).get("report", {})
    names = report.get("features") or champion.info.feature_names
    if not names and champion.input_schema is not None:
        names = Contract.from_dict(champion.input_schema).names
    return [str(name) for name in names or []]


def _not_comparable(reason: str) -> ChampionScores:
    return ChampionScores(None, np.arange(0), reason)


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if not isinstance(exc, ShipyardError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"
