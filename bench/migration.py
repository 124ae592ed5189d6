"""Workspace migration benchmark: moving an embedded workspace of 1,000 versions, proving nothing was lost.

The workspace: ``--versions`` small scikit-learn versions over ``--models`` models (each version its own
artifact), ``production`` and ``staging`` moved along the way, and a prediction log of ``--predictions``
logged rows. It is moved with ``migrate_workspace`` (what ``shipyard migrate-workspace`` runs) into a new
SQLite file and, with ``--postgres-url``, into a fresh PostgreSQL schema, each time with a new artifacts
folder. Measured per destination:

* the move: wall time, rows and artifacts per second;
* a second run: it compares every row of every table with the destination and re-hashes every artifact
  there, so "0 rows copied, no conflict" is a full check that the destination equals the source;
* then the destination is opened as a workspace: every version's artifact verified through the registry,
  every alias resolved to the source's version, and a sample of models loaded and compared on predictions.

The floor it is compared with: copying the workspace folder (database file, artifacts, log) with
``shutil.copytree``, the bytes alone.

    python bench/migration.py [--versions 1000] [--postgres-url postgresql://…] [--no-write]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, write_section
from shipyard import Registry
from shipyard.config import load_settings
from shipyard.ids import new_request_id, prediction_id
from shipyard.predictions import LogWriter, PredictionRecord
from shipyard.registry.workspace_migration import MigrationReport, MigrationTarget, migrate_workspace

FEATURES = ["amount", "hour", "merchant_risk"]
#: How the figures are made, above the table in docs/benchmarks.md.
HOW = (
    "`python bench/migration.py` — builds an embedded workspace (SQLite and local folders) and moves "
    "it with `migrate_workspace`, what `shipyard migrate-workspace` runs, into a new SQLite file and a "
    "fresh PostgreSQL schema, each with a new artifacts folder. The second run compares every row of "
    "every table with the destination and re-hashes every artifact there: it copying nothing is the "
    "check that the destination equals the source. Then the destination is opened as a workspace, "
    "every version's artifact verified, every production alias resolved, and five models loaded on "
    "both sides and compared on predictions; the source database's file hash is the same before and "
    "after.\n\n"
)


def transactions(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.5, 0.8, rows),
            "hour": rng.integers(0, 24, rows).astype(float),
            "merchant_risk": rng.beta(2.0, 5.0, rows),
        }
    )
    frame["fraud"] = ((0.02 * frame["amount"] + 3 * frame["merchant_risk"]) > 1.6).astype(int)
    return frame


def build_workspace(home: Path, models: int, versions: int, predictions: int) -> dict[str, int]:
    """The workspace described at the top; each model's production version."""
    frame = transactions(200, seed=1)
    production: dict[str, int] = {}
    with Registry(home=home, actor="bench") as registry:
        for index in range(versions):
            name = f"model-{index % models:02d}"
            classifier = LogisticRegression(C=0.1 + index / 100, max_iter=200)
            fitted = classifier.fit(frame[FEATURES], frame["fraud"])
            version = registry.register(name, fitted, description=f"version {index}")
            registry.set_alias(name, "staging", version.version, reason="candidate")
            if version.version > 1:
                registry.set_alias(name, "production", version.version - 1, reason="promoted")
                production[name] = version.version - 1
            if (index + 1) % 200 == 0:
                print(f"registered {index + 1} of {versions} versions", file=sys.stderr)
        log_predictions(registry, frame, predictions)
    return production


def log_predictions(registry: Registry, frame: pd.DataFrame, rows: int) -> None:
    """``rows`` predictions of model-00's production version, 100 rows a request, spread over 24 hours."""
    version = registry.resolve("model-00@production")
    model = registry.load_model(version.ref)
    labels, probabilities = model.predict_with_proba(frame[FEATURES].iloc[:100])
    rows_in = frame[FEATURES].iloc[:100].reset_index(drop=True)
    writer = LogWriter(registry.settings.log_url, flush_seconds=3600)
    start = datetime.now(UTC) - timedelta(days=1)
    for request_number in range(rows // 100):
        at = start + timedelta(seconds=request_number * 86400 / max(1, rows // 100))
        request = new_request_id(at)
        ids = [prediction_id(request, index) for index in range(100)]
        record = PredictionRecord(
            request, ids, at, version.model, version.version, "native", rows_in, np.asarray(labels),
            probabilities, 0.002,
        )  # fmt: skip
        writer.submit(record)
    writer.close()


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_destination(
    home: Path, target: MigrationTarget, production: dict[str, int], source_home: Path
) -> tuple[int, int]:
    """Every version verified and every alias resolved in the destination; a sample predicted on both
    sides. Returns (versions verified, models compared on predictions)."""
    frame = transactions(50, seed=2)[FEATURES]
    verified = compared = 0
    with (
        Registry(
            home=home,
            registry_url=target.registry_url,
            artifacts_url=target.artifacts_url,
            log_url=target.log_url,
        ) as moved,
        Registry(home=source_home) as source,
    ):
        for model in moved.list_models():
            for version in moved.list_versions(model.name):
                moved.verify(version.ref)
                verified += 1
            if production.get(model.name):
                assert moved.resolve(f"{model.name}@production").version == production[model.name]
            if compared < 5:
                reference = f"{model.name}@staging"
                there = moved.load_model(reference).predict(frame)
                here = source.load_model(reference).predict(frame)
                assert there.tolist() == here.tolist(), reference
                compared += 1
    return verified, compared


def move_once(source_home: Path, target: MigrationTarget) -> tuple[float, MigrationReport]:
    started = time.perf_counter()
    report = migrate_workspace(load_settings(source_home), target)
    return time.perf_counter() - started, report


def bench_destination(
    label: str, source_home: Path, target: MigrationTarget, production: dict[str, int], scratch: Path
) -> list[object]:
    before = file_sha256(source_home / "registry.db")
    first_seconds, first = move_once(source_home, target)
    again_seconds, again = move_once(source_home, target)
    assert first.complete and again.complete, "rows or files missing at the destination"
    assert again.copied_rows == 0 and all(files.copied == 0 for files in again.files)
    assert file_sha256(source_home / "registry.db") == before, "the source database changed"
    verified, compared = check_destination(scratch / f"open-{label}", target, production, source_home)
    rows = sum(table.source for table in first.tables)
    artifacts = next(files for files in first.files if files.kind == "artifacts")
    log = next(files for files in first.files if files.kind == "prediction log")
    print(f"{label}: moved in {first_seconds:.1f} s, checked again in {again_seconds:.1f} s", file=sys.stderr)
    return [
        label,
        f"{rows:,}",
        f"{artifacts.source:,} ({artifacts.bytes_copied / 2**20:.1f} MiB)",
        f"{log.source:,}",
        f"{first_seconds:.1f}",
        f"{rows / first_seconds:,.0f}",
        f"{again_seconds:.1f}",
        f"yes: {verified:,} versions verified, {compared} models predict alike, source unchanged",
    ]


def run(args: argparse.Namespace, scratch: Path) -> str:
    source_home = scratch / "source"
    started = time.perf_counter()
    production = build_workspace(source_home, args.models, args.versions, args.predictions)
    built = time.perf_counter() - started
    size = folder_bytes(source_home)
    started = time.perf_counter()
    shutil.copytree(source_home, scratch / "plain-copy")
    floor = time.perf_counter() - started
    rows = [
        bench_destination(
            "SQLite",
            source_home,
            MigrationTarget(
                f"sqlite:///{scratch / 'team.db'}",
                str(scratch / "sqlite-artifacts"),
                str(scratch / "sqlite-log"),
            ),
            production,
            scratch,
        )
    ]
    if args.postgres_url:
        from registry import drop_schema, postgres_schema_url

        url, schema = postgres_schema_url(args.postgres_url)
        try:
            target = MigrationTarget(url, str(scratch / "pg-artifacts"), str(scratch / "pg-log"))
            rows.append(bench_destination("PostgreSQL", source_home, target, production, scratch))
        finally:
            drop_schema(args.postgres_url, schema)
    columns = [
        "destination",
        "rows",
        "artifacts",
        "log files",
        "move (s)",
        "rows/s (whole move)",
        "second run (s)",
        "nothing lost",
    ]
    context = (
        f"{args.versions:,} versions of {args.models} models (each its own artifact), aliases moved at "
        f"every registration, {args.predictions:,} logged predictions; the workspace folder is "
        f"{size / 2**20:.1f} MiB, built in {built:.0f} s. Copying that folder with `shutil.copytree` (the "
        f"bytes alone, no checks) takes {floor:.2f} s."
    )
    return context + "\n\n" + markdown_table(columns, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=50_000)
    parser.add_argument("--postgres-url", default=os.environ.get("SHIPYARD_TEST_POSTGRES_URL"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-migration-") as scratch:
        body = run(args, Path(scratch))
    print(body)
    if args.no_write:
        return
    write_section("migration", "Workspace migration", HOW + body)


if __name__ == "__main__":
    main()
