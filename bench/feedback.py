"""Late-label benchmark: ``shipyard feedback add`` of a million labels over 30 days of hourly log segments.

Data: a workspace with one registered classifier (``bench/1``, classes 0 and 1) and a prediction log of one
segment per hour (as ``shipyard logs compact`` leaves them), 3 float inputs, each prediction id stamped with
its request's time as the server stamps it; the label file (Parquet, columns ``prediction_id`` and ``label``)
names every logged prediction once, in random order. Two logs: 1,000,000 predictions over 30 days (720
segments, requests of up to 50 rows), the aim's case; and 50,000 over 150 days (3,600 segments, requests of
up to 7 rows), the case that did not finish in 300 s before.

* shipyard — ``shipyard feedback add labels.parquet --json`` in a fresh process, as a user runs it: wall
  time, CPU time (user + system) and peak memory; then the same file again, every label now a duplicate.
* baseline — the algorithm ``feedback add`` used before, kept here only: for each hour its ids name, list
  the log's hours, read the segments of that hour and the next and match the ids; then store the labels one
  ORM row at a time. In a fresh process on a copy of the workspace, stopped after ``--baseline-timeout``
  (its CPU time and peak memory measured the same way).
* floor — DuckDB joining the label file to the segments by prediction id, in-process: the join alone,
  with nothing checked or stored; how far reading the log is from a plain bulk join.

    python bench/feedback.py [--no-baseline] [--baseline-timeout 300] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, run_process, write_section
from shipyard import Registry
from shipyard.ids import made_at, new_request_id, prediction_id
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.predictions.segments import HOUR, hour_of
from shipyard.store.schema import FeedbackRow, ModelRow

SEED = 7


@dataclass(frozen=True)
class Scenario:
    title: str
    labels: int
    hours: int
    #: Rows per logged request: a busy service's hour holds many requests; a quiet one's a few small ones.
    request_rows: int


SCENARIOS = (
    Scenario("1,000,000 labels over 30 days", 1_000_000, 30 * 24, 50),
    Scenario("50,000 labels over 150 days", 50_000, 150 * 24, 7),
)


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    cpu_seconds: float | None
    peak_mib: float | None
    counts: dict[str, int]
    stopped: bool = False  # ran out of time


def build(folder: Path, scenario: Scenario) -> Path:
    """The workspace (``folder/ws``) with its log, and ``folder/labels.parquet``; returns the label file."""
    labels, hours, request_rows = scenario.labels, scenario.hours, scenario.request_rows
    rng = np.random.default_rng(SEED)
    home = folder / "ws"
    features = rng.normal(size=(200, 3))
    with Registry(home=home) as registry:
        registry.register("bench", LogisticRegression().fit(features, np.arange(200) % 2))
        url = registry.settings.log_url
    columns = pd.Index(["a", "b", "c"])
    inputs = pd.DataFrame(rng.normal(size=(request_rows, 3)), columns=columns)
    outputs = rng.integers(0, 2, request_rows)
    probabilities = np.column_stack([1 - outputs * 0.8, outputs * 0.8])
    first = hour_of(datetime.now(UTC) - timedelta(hours=hours + 1))
    writer = LogWriter(url, flush_seconds=3600)
    identifiers: list[str] = []
    for hour in range(hours):
        rows = labels // hours + (1 if hour < labels % hours else 0)
        requests = math.ceil(rows / request_rows)
        for request_index in range(requests):
            size = min(request_rows, rows - request_index * request_rows)
            at = first + timedelta(hours=hour, seconds=request_index * 3600 / requests)
            request = new_request_id(at)
            ids = [prediction_id(request, row) for row in range(size)]
            identifiers.extend(ids)
            writer.submit(
                PredictionRecord(
                    request,
                    ids,
                    at,
                    "bench",
                    1,
                    "native",
                    inputs.iloc[:size],
                    outputs[:size],
                    probabilities[:size],
                    0.002,
                )
            )
        writer.flush()  # one segment per hour
    writer.close()
    order = rng.permutation(len(identifiers))
    table = pa.table(
        {
            "prediction_id": pa.array(identifiers, pa.string()).take(pa.array(order)),
            "label": pa.array(rng.integers(0, 2, len(identifiers))),
        }
    )
    path = folder / "labels.parquet"
    pq.write_table(table, path)
    return path


def shipyard_run(name: str, home: Path, labels: Path) -> Run:
    """``shipyard feedback add`` in a fresh process."""
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    command = [sys.executable, "-m", "shipyard", "feedback", "add", str(labels), "--json"]
    seconds, cpu, peak, output = run_process(command, env, timeout=None)
    assert output is not None
    report = json.loads(output)
    counts = {key: report[key] for key in ("attached", "duplicate", "updated", "unknown", "invalid")}
    return Run(name, seconds, cpu, peak, counts)


# -- the baseline: the algorithm before, kept only here ---------------------------------------------------


def baseline_run(home: Path, labels: Path) -> Run:
    """The former ``attach_labels``: find per hour (listing every hour of the log, reading the segments of
    that hour and the next), then store round by round, one ORM row per new label, ids looked up 500 at a
    time. Row checks are the same as today's (a label checked against the model's classes)."""
    frame = pd.read_parquet(labels)
    pairs = list(zip(frame["prediction_id"].tolist(), frame["label"].tolist(), strict=True))
    del frame
    with Registry(home=home) as registry:
        log = PredictionLog(registry.settings.log_url)
        classes = {str(known) for known in registry.resolve("bench/1").info.classes or ()}
        started = time.perf_counter()
        found = _baseline_find(log, {identifier for identifier, _ in pairs})
        counts: Counter[str] = Counter()
        accepted: dict[str, tuple[str, dict[str, Any]]] = {}
        for identifier, label in pairs:
            logged = found.get(identifier)
            if logged is None:
                counts["unknown"] += 1
            elif str(label) not in classes:
                counts["invalid"] += 1
            else:
                accepted[identifier] = (json.dumps(int(label)), logged)
        counts.update(registry.db.write(lambda session: _baseline_store(session, accepted)))
        seconds = time.perf_counter() - started
    return Run("baseline (the former per-hour algorithm)", seconds, None, None, dict(counts))


def _baseline_find(log: PredictionLog, identifiers: set[str]) -> dict[str, dict[str, Any]]:
    by_hour: dict[datetime, set[str]] = {}
    for identifier in identifiers:
        moment = made_at(identifier)
        if moment is not None:
            by_hour.setdefault(hour_of(moment), set()).add(identifier)
    found: dict[str, dict[str, Any]] = {}
    for hour, wanted in sorted(by_hour.items()):
        for segment in log.segments(start=hour, end=hour + HOUR + HOUR):
            table = log.store.read(segment, ["prediction_id", "model", "version", "timestamp", "prediction"])
            if table is None:
                continue
            mask = pc.is_in(table["prediction_id"], value_set=pa.array(sorted(wanted), pa.string()))
            for row in table.filter(mask).to_pylist():
                found[row["prediction_id"]] = row
    return found


def _baseline_store(session: Any, accepted: dict[str, tuple[str, dict[str, Any]]]) -> Counter[str]:
    from sqlalchemy import select

    identifiers = list(accepted)
    existing: dict[str, Any] = {}
    for start in range(0, len(identifiers), 500):
        chunk = identifiers[start : start + 500]
        for row in session.execute(select(FeedbackRow).where(FeedbackRow.prediction_id.in_(chunk))).scalars():
            existing[row.prediction_id] = row
    model_id = session.execute(select(ModelRow.id).where(ModelRow.name == "bench")).scalar_one()
    now = datetime.now(UTC)
    counts: Counter[str] = Counter()
    for identifier, (label, logged) in accepted.items():
        stored = existing.get(identifier)
        if stored is not None:
            counts["duplicate" if stored.label == label else "updated"] += 1
            continue
        session.add(
            FeedbackRow(
                prediction_id=identifier,
                model_id=model_id,
                version=logged["version"],
                predicted_at=logged["timestamp"],
                label=label,
                received_at=now,
                source="bench",
            )
        )
        counts["attached"] += 1
    return counts


# -- the floor: a plain bulk join ---------------------------------------------------------------------------


def floor_run(home: Path, labels: Path) -> Run:
    """DuckDB joining the label file to every segment by prediction id (nothing checked, nothing stored)."""
    import duckdb

    with Registry(home=home) as registry:
        log = PredictionLog(registry.settings.log_url)
        started = time.perf_counter()
        paths = ", ".join(f"'{segment.path}'" for segment in log.segments())
        connection = duckdb.connect()
        joined = connection.sql(
            "SELECT l.prediction_id, p.model, p.version, p.timestamp, l.label "
            f"FROM read_parquet('{labels}') l JOIN read_parquet([{paths}]) p USING (prediction_id)"
        ).to_arrow_table()
        connection.close()
        seconds = time.perf_counter() - started
    return Run("floor (DuckDB join only)", seconds, None, None, {"attached": joined.num_rows})


def baseline_in_a_process(home: Path, labels: Path, timeout: float) -> Run:
    """``baseline_run`` in a fresh process (as ``shipyard feedback add`` runs), stopped after ``timeout``."""
    command = [sys.executable, __file__, "--baseline-of", str(home), str(labels)]
    name = "baseline (the former per-hour algorithm)"
    seconds, cpu, peak, output = run_process(command, None, timeout)
    if output is None:
        return Run(name, seconds, cpu, peak, {}, stopped=True)
    return Run(name, seconds, cpu, peak, json.loads(output)["counts"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the former algorithm (minutes)")
    parser.add_argument(
        "--baseline-timeout", type=float, default=300, help="stop the former algorithm after this long"
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--baseline-of", nargs=2, metavar=("HOME", "LABELS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_of:  # the child process of baseline_in_a_process
        run = baseline_run(Path(args.baseline_of[0]), Path(args.baseline_of[1]))
        print(json.dumps({"counts": run.counts}))
        return

    sections = []
    for scenario in SCENARIOS:
        runs: list[Run] = []
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-feedback-") as scratch:
            folder = Path(scratch)
            started = time.perf_counter()
            labels = build(folder / "shipyard", scenario)
            print(f"{scenario.title}: built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            pristine = folder / "pristine"
            shutil.copytree(folder / "shipyard", pristine)  # for the baseline: no label attached yet
            for name in ("shipyard feedback add", "shipyard feedback add, again (all duplicates)"):
                runs.append(shipyard_run(name, folder / "shipyard" / "ws", labels))
                print(runs[-1], file=sys.stderr)
            runs.append(floor_run(folder / "shipyard" / "ws", labels))
            print(runs[-1], file=sys.stderr)
            if not args.no_baseline:
                runs.append(baseline_in_a_process(pristine / "ws", labels, args.baseline_timeout))
                print(runs[-1], file=sys.stderr)
        sections.append(report(runs, scenario))

    body = "\n\n".join(
        [
            *sections,
            "`shipyard feedback add labels.parquet --json` runs in a fresh process (start-up and reading "
            "the file included), first on a workspace with no label, then again with the same file. The "
            "log has one segment per hour (as `shipyard logs compact` leaves it); the label file "
            "(Parquet) names every logged prediction once, in random order. The baseline is the algorithm"
            " `feedback add` used before, kept in bench/feedback.py only: for each hour its ids name, "
            "list every hour of the log and read the segments of that hour and the next, then store the "
            "labels one ORM row at a time (its label check is simpler than shipyard's, which favours it);"
            f" it runs in a fresh process too, stopped after {args.baseline_timeout:.0f} s. The floor is "
            "DuckDB joining the label file to the segments by prediction id, in-process, nothing checked "
            "or stored: the bulk join alone. "
            "Aim: a million labels over 30 days in under 60 s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("feedback", "Late labels: a million over 30 days of hourly segments", body)


def report(runs: list[Run], scenario: Scenario) -> str:
    rows = [
        [
            run.name,
            f"> {run.seconds:.0f} (stopped)" if run.stopped else f"{run.seconds:.1f}",
            "-" if run.cpu_seconds is None else f"{run.cpu_seconds:.1f}",
            "-" if run.peak_mib is None else f"{run.peak_mib:,.0f}",
            "-" if run.stopped else f"{scenario.labels / run.seconds:,.0f}",
            ", ".join(f"{count:,} {status}" for status, count in run.counts.items() if count) or "-",
        ]
        for run in runs
    ]
    lines = [
        f"**{scenario.title}** ({scenario.hours:,} hourly segments, requests of up to "
        f"{scenario.request_rows} rows)",
        markdown_table(["run", "seconds", "CPU seconds", "peak MiB", "labels/s", "outcome"], rows),
    ]
    baseline = next((run for run in runs if run.name.startswith("baseline")), None)
    if baseline is not None:
        at_least = "at least " if baseline.stopped else ""
        lines.append(f"Speed-up over the baseline: {at_least}**{baseline.seconds / runs[0].seconds:.1f}×**.")
    return "\n\n".join(lines)


if __name__ == "__main__":
    main()
