"""The fresh data of a retraining run, stored as a dataset version so the new model's lineage names it.

Each source of a policy (``retraining.policy``) gives a table for the window ``[now − window, now)``:

* ``log``: the model's own prediction log joined with the labels that came back (``dataset_from_log``);
  its bookkeeping columns (ids, times, the old model's answer) are kept out of the features;
* ``dataset``: the newest version of a catalog dataset, its rows cut to the window by ``time_column``;
* ``sql``: the rows a PostgreSQL or DuckDB query returns with ``:start`` and ``:end`` bound to the window.

A table cut or queried here is stored as a version of ``<model>-retrain`` with its lineage in the notes
(the source, the window, the dataset or query it came from). An empty table stops the run here: a model
is never trained on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from shipyard.datasets.from_log import LOG_COLUMNS, dataset_from_log
from shipyard.errors import InvalidInput
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.retraining.policy import DatasetSource, LogSource, RetrainPolicy, SqlSource
from shipyard.store.datasets import DatasetVersion
from shipyard.store.user_queries import read_query


@dataclass(frozen=True)
class FreshData:
    """The run's training table as a dataset version, and the columns training must not learn from."""

    dataset: DatasetVersion
    exclude: tuple[str, ...] = ()


def fresh_data(registry: Registry, policy: RetrainPolicy, log: PredictionLog, now: datetime) -> FreshData:
    """Gather and store the fresh data ``policy`` names for the window ending at ``now``."""
    start = now - policy.window if policy.window is not None else None
    source = policy.data
    if isinstance(source, LogSource):
        version = dataset_from_log(
            registry,
            log,
            policy.model,
            start=start or datetime.fromtimestamp(0, now.tzinfo),
            end=now,
            labelled=source.labelled,
            reason=f"fresh data for retraining {policy.model}",
        )
        return FreshData(version, LOG_COLUMNS)
    if isinstance(source, DatasetSource):
        frame, lineage = _from_dataset(registry, source, start, now)
    else:
        frame, lineage = _from_query(source, start, now)
    if frame.empty:
        raise InvalidInput(
            f"the fresh data of {policy.model} is empty ({_described(lineage)}); nothing to train on"
        )
    version = registry.datasets.add(
        f"{policy.model}-retrain",
        frame.reset_index(drop=True),
        source=lineage["source"],
        reason=f"fresh data for retraining {policy.model}",
        notes={"lineage": lineage},
    )
    return FreshData(version)


def _from_dataset(
    registry: Registry, source: DatasetSource, start: datetime | None, end: datetime
) -> tuple[pd.DataFrame, dict[str, Any]]:
    version = registry.datasets.get(source.name)
    frame = registry.datasets.load(version)
    lineage: dict[str, Any] = {"source": "dataset", "dataset": version.ref, "window": _window(start, end)}
    if source.time_column is None:
        return frame, lineage
    if source.time_column not in frame.columns:
        raise InvalidInput(
            f"dataset {version.ref} has no column {source.time_column!r} (time_column of the retraining "
            f"policy); its columns: {', '.join(map(str, frame.columns))}"
        )
    stamps = pd.to_datetime(frame[source.time_column], utc=True, errors="coerce")
    inside = stamps < pd.Timestamp(end)
    if start is not None:
        inside &= stamps >= pd.Timestamp(start)
    lineage |= {"time_column": source.time_column, "rows_outside": int((~inside).sum())}
    return frame[inside.to_numpy()], lineage


def _from_query(
    source: SqlSource, start: datetime | None, end: datetime
) -> tuple[pd.DataFrame, dict[str, Any]]:
    frame = read_query(source.url, source.query, start, end)
    database = source.url.split("://", 1)[0]
    lineage = {"source": "sql", "database": database, "query": source.query, "window": _window(start, end)}
    return frame, lineage


def _window(start: datetime | None, end: datetime) -> dict[str, str | None]:
    return {"start": start.isoformat() if start else None, "end": end.isoformat()}


def _described(lineage: dict[str, Any]) -> str:
    origin = lineage.get("dataset") or f"the {lineage.get('database')} query"
    window = lineage["window"]
    return f"{origin} from {window['start'] or 'the beginning'} to {window['end']}"
