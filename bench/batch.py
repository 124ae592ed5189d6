"""Batch scoring benchmark: shipyard score against the in-process floor and ``mlflow models predict``.

Data: N rows × 20 float features (Parquet, 100,000-row groups) plus an id column; the model is a
HistGradientBoosting classifier trained on 20,000 rows of the same distribution and registered with a data
contract inferred from them, so shipyard validates every row (and would write rejects) as in production.

* floor — what a careful hand-written script does in one process: read the Parquet file, ``predict_proba``,
  write Parquet (id + probability). scikit-learn's OpenMP uses every core inside ``predict_proba``.
* shipyard — the ``shipyard score`` command, and ``score_batch`` called from a script: on every core
  (threads sharing one model load, one OpenMP thread each), 100,000-row chunks, contract validation, reject
  files, manifest; Parquet in and out. The command is shipyard's own process; a script is someone else's,
  where loading a skops file keeps skops's default trust lists for the script's own calls to skops (a walk
  of scikit-learn's packages, about 0.5 s), so both are shown.
* MLflow — ``mlflow models predict --env-manager local`` on the same rows as CSV (bench/.venv-mlflow), the
  model saved with ``mlflow.sklearn.save_model``.

Each contender runs in a fresh process, timed from its start to its exit (its imports and the model's load
included: what a user waits for); its peak memory is the highest sum of the resident memory of its
process and all its children, sampled every 20 ms. Sizes: 1,000,000 and 5,000,000 rows, to show whose memory
grows with the input. ``--repeat N`` runs the contenders N times, taking turns, and reports each one's median
run (by seconds): on a shared machine one run of each is noise.

    python bench/batch.py [--sizes 1000000,5000000] [--mlflow-sizes 1000000,5000000] [--repeat 1] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import compile_bytecode, markdown_table, verdict, write_section

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
MLFLOW = HERE / ".venv-mlflow" / "bin" / "mlflow"
FEATURES = [f"f{index}" for index in range(20)]
#: The contenders, as the tables name them.
FLOOR_NAME = "floor (read → predict_proba → write)"
SHIPYARD_NAME = "shipyard score (command)"
SHIPYARD_API_NAME = "shipyard score_batch (from a script)"
MLFLOW_NAME = "mlflow models predict (CSV)"
ROW_GROUP = 100_000
SEED = 11


def features(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.normal(size=(rows, len(FEATURES)))


def write_input(path: Path, rows: int) -> None:
    rng = np.random.default_rng(SEED)
    schema = pa.schema([("id", pa.int64()), *[(name, pa.float64()) for name in FEATURES]])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            size = min(ROW_GROUP, rows - start)
            block = features(rng, size)
            columns = {"id": pa.array(np.arange(start, start + size))}
            columns.update({name: pa.array(block[:, i]) for i, name in enumerate(FEATURES)})
            writer.write_table(pa.table(columns, schema=schema))


def write_csv(parquet: Path, path: Path) -> None:
    import pyarrow.csv as pa_csv

    table = pq.read_table(parquet, columns=FEATURES)
    pa_csv.write_csv(table, path)


def prepare_model(folder: Path) -> tuple[Path, str]:
    """Train the model, register it in a fresh shipyard workspace with a contract, dump it for the others."""
    import joblib
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from shipyard import Registry, VersionMetadata
    from shipyard.contracts import Contract

    rng = np.random.default_rng(SEED + 1)
    frame = pd.DataFrame(features(rng, 20_000), columns=FEATURES)
    target = ((frame["f0"] + frame["f1"] * frame["f2"] - 0.5 * frame["f3"]) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(frame, target)
    joblib.dump(model, folder / "model.joblib")
    home = folder / "ws"
    with Registry(home=home) as registry:
        contract = Contract.infer(frame)
        version = registry.register("bench", model, metadata=VersionMetadata(input_schema=contract.to_dict()))
    return home, version.ref


# -- contenders (each in a child process) -------------------------------------------------------------------
def child_floor(model_file: str, source: str, target: str) -> dict[str, Any]:
    import joblib

    model = joblib.load(model_file)
    table = pq.read_table(source)
    frame = table.select(FEATURES).to_pandas()
    probabilities = model.predict_proba(frame)[:, 1]
    pq.write_table(pa.table({"id": table["id"], "proba_1": probabilities}), target)
    return {"rows": table.num_rows}


def child_shipyard(home: str, reference: str, source: str, target: str) -> dict[str, Any]:
    from shipyard import Registry
    from shipyard.batch import BatchOptions, score_batch

    with Registry(home=home) as registry:
        options = BatchOptions(key_columns=["id"], chunk_rows=ROW_GROUP)
        result = score_batch(registry, reference, [source], target, options)
    return {"rows": result.scored, "rejected": result.rejected}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median seconds (the lower middle one of an even count), or the first failed run."""
    failed = [found for found in runs if "error" in found]
    if failed:
        return failed[0]
    return sorted(runs, key=lambda found: float(found["seconds"]))[(len(runs) - 1) // 2]


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a contender; its result (last stdout line, JSON) plus the peak memory of its process tree."""
    import psutil

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for member in tree:
                    try:
                        total += member.memory_info().rss
                    except psutil.Error:
                        continue
                peak = max(peak, total / 1e6)
            except psutil.Error:
                return
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1][:200]}
    found = last_json(out)
    found["seconds"] = wall  # the process's whole life, imports included, for every contender alike
    found["peak_mb"] = peak
    return found


def measure(
    folder: Path, source: Path, size: int, registered: tuple[Path, str], with_mlflow: bool, repeat: int
) -> dict[str, dict[str, Any]]:
    """Each contender's median run on ``source``, the contenders taking turns ``repeat`` times (a busy spell
    of the machine then hits every one of them)."""
    me = [sys.executable, __file__, "--child"]
    home, reference = registered
    csv = folder / f"input-{size}.csv"
    if with_mlflow:
        write_csv(source, csv)
    runs: dict[str, list[dict[str, Any]]] = {
        FLOOR_NAME: [],
        SHIPYARD_NAME: [],
        SHIPYARD_API_NAME: [],
        **({MLFLOW_NAME: []} if with_mlflow else {}),
    }
    for turn in range(repeat):
        floor = [
            *me,
            "floor",
            str(folder / "model.joblib"),
            str(source),
            str(folder / f"floor-{size}.parquet"),
        ]
        runs[FLOOR_NAME].append(run_measured(floor))
        target = folder / f"shipyard-{size}-{turn}"  # a fresh folder: a finished run is never run again
        command = [sys.executable, "-m", "shipyard", "score", reference, "-i", str(source), "-o", str(target)]
        runs[SHIPYARD_NAME].append(
            run_measured([*command, "--key", "id", "--json"], env={"SHIPYARD_HOME": str(home)})
        )
        target = folder / f"shipyard-api-{size}-{turn}"
        runs[SHIPYARD_API_NAME].append(
            run_measured([*me, "shipyard", str(home), reference, str(source), str(target)])
        )
        if with_mlflow:
            runs[MLFLOW_NAME].append(mlflow_predict(folder / "model.joblib", folder, csv, size))
    return {name: median_run(found) for name, found in runs.items()}


def last_json(out: str) -> dict[str, Any]:
    """The JSON object a contender printed: its whole output (``--json``), else its last line that is one."""
    try:
        return dict(json.loads(out))
    except ValueError:
        lines = [line for line in out.strip().splitlines() if line.startswith("{")]
        return dict(json.loads(lines[-1])) if lines else {}


def mlflow_predict(model_file: Path, folder: Path, csv: Path, rows: int) -> dict[str, Any]:
    if not MLFLOW_PYTHON.exists():
        return {"error": "bench/.venv-mlflow is missing: run 'make bench-serving-deps'"}
    model_dir = folder / "mlflow-model"
    if not model_dir.exists():
        saved = subprocess.run(
            [str(MLFLOW_PYTHON), str(HERE / "baselines" / "mlflow_serving_model.py"),
             "--model-file", str(model_file), "--output", str(model_dir)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if saved.returncode != 0:
            return {"error": saved.stderr.strip().splitlines()[-1][:200]}
    found = run_measured(
        [str(MLFLOW), "models", "predict", "-m", str(model_dir), "-i", str(csv), "-t", "csv",
         "-o", str(folder / "mlflow-out.json"), "--env-manager", "local"],
        env={"MLFLOW_TRACKING_URI": f"file://{folder / 'mlruns'}"},
    )  # fmt: skip
    if "error" not in found:
        found["rows"] = rows
    return found


#: The aims: shipyard's rows/s against the floor's and MLflow's, and peak memory flat in the input's size.
FLOOR_AIM, MLFLOW_AIM, MEMORY_GROWTH_AIM = 1.0, 5.0, 1.2


def aims_table(by_size: dict[int, dict[str, dict[str, Any]]]) -> str:
    """Each aim with what was measured at every size, and whether it holds."""

    def rate(size: int, name: str) -> float | None:
        found = by_size[size].get(name, {})
        return None if "error" in found else found.get("rate")

    sizes = sorted(by_size)

    def over_floor(name: str) -> list[float]:
        return [
            (mine / base) for size in sizes if (mine := rate(size, name)) and (base := rate(size, FLOOR_NAME))
        ]

    mlflow = [
        (size, mine / base, floor_rate / base)
        for size in sizes
        if (mine := rate(size, SHIPYARD_NAME))
        and (base := rate(size, MLFLOW_NAME))
        and (floor_rate := rate(size, FLOOR_NAME))
    ]
    peaks = [by_size[size][SHIPYARD_NAME].get("peak_mb") for size in sizes]
    rows: list[list[object]] = []
    for name in (SHIPYARD_NAME, SHIPYARD_API_NAME):
        floor = over_floor(name)
        rows.append(
            [
                f"{name} ≥ {FLOOR_AIM:.1f}× the floor's rows/s at every size",
                " / ".join(f"{ratio:.2f}×" for ratio in floor) or "n/a",
                verdict(len(floor) == len(sizes) and min(floor) >= FLOOR_AIM),
            ]
        )
    rows.append(
        [
            f"{SHIPYARD_NAME} ≥ {MLFLOW_AIM:.0f}× MLflow's rows/s",
            " / ".join(f"{ratio:.1f}× (the floor: {base:.1f}×) at {size:,}" for size, ratio, base in mlflow)
            or "n/a (MLflow not run)",
            verdict(bool(mlflow) and min(ratio for _, ratio, _ in mlflow) >= MLFLOW_AIM) if mlflow else "n/a",
        ]
    )
    if len(sizes) > 1 and all(peaks):
        growth = peaks[-1] / peaks[0]
        rows.append(
            [
                f"peak memory flat: at {sizes[-1]:,} rows ≤ {MEMORY_GROWTH_AIM}× its peak at {sizes[0]:,}",
                f"{peaks[0]:,.0f} → {peaks[-1]:,.0f} MB ({growth:.2f}×)",
                verdict(growth <= MEMORY_GROWTH_AIM),
            ]
        )
    return markdown_table(["aim", "measured", "result"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument(
        "--mlflow-sizes", default="1000000,5000000", help="sizes MLflow runs at ('' for none)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender; the median is shown")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", choices=["floor", "shipyard"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        found = child_floor(*args.paths) if args.child == "floor" else child_shipyard(*args.paths)
        print(json.dumps(found))
        return

    compile_bytecode()
    sizes = [int(size) for size in args.sizes.split(",")]
    table_rows: list[list[object]] = []
    ratios: list[list[object]] = []
    by_size: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-batch-") as scratch:
        folder = Path(scratch)
        registered = prepare_model(folder)
        for size in sizes:
            source = folder / f"input-{size}.parquet"
            write_input(source, size)
            with_mlflow = str(size) in args.mlflow_sizes.split(",")
            results = measure(folder, source, size, registered, with_mlflow, args.repeat)
            by_size[size] = results
            for name, found in results.items():
                if "error" in found:
                    table_rows.append([f"{size:,}", name, "n/a", "n/a", "n/a", found["error"]])
                    print(f"{size:>9,} {name}: {found['error']}", file=sys.stderr)
                    continue
                rate = found["rows"] / found["seconds"]
                found["rate"] = rate
                table_rows.append(
                    [
                        f"{size:,}",
                        name,
                        f"{found['seconds']:.2f}",
                        f"{rate:,.0f}",
                        f"{found['peak_mb']:,.0f}",
                        "",
                    ]
                )
                print(f"{size:>9,} {name:<40} {found['seconds']:7.2f} s {rate:>12,.0f} rows/s "
                      f"{found['peak_mb']:>8,.0f} MB", file=sys.stderr)  # fmt: skip
            mine, script = results[SHIPYARD_NAME].get("rate"), results[SHIPYARD_API_NAME].get("rate")
            floor = results[FLOOR_NAME].get("rate")
            mlflow = results.get(MLFLOW_NAME, {}).get("rate")
            ratios.append(
                [
                    f"{size:,}",
                    f"{mine / floor:.2f}×" if mine and floor else "n/a",
                    f"{script / floor:.2f}×" if script and floor else "n/a",
                    f"{mine / mlflow:.1f}×" if mine and mlflow else "—",
                ]
            )
    repeated = f"; each figure is the median of {args.repeat} runs, taking turns" if args.repeat > 1 else ""
    body = "\n\n".join(
        [
            "N rows × 20 float features in one Parquet file (100,000-row groups) plus an id; a "
            "HistGradientBoosting classifier (100 trees) registered with a contract inferred from its "
            "training data. Each contender in a fresh process, timed over its whole life (start to exit, "
            "imports and the model's load included, as for MLflow's command); peak memory is the highest "
            "sampled sum of the "
            f"resident memory of its process and its children{repeated}. shipyard: `shipyard score` (the "
            "command) and `score_batch` from a script (someone else's process, where skops keeps its default "
            "trust lists: about 0.5 s more), each on every "
            "core with contract validation, reject files and the resumable manifest on (the first chunks are "
            "read and checked while the model loads); the floor: one process reading the whole file, "
            "`predict_proba`, writing id + probability; MLflow: `mlflow models predict --env-manager local` "
            "on the same rows as CSV.",
            markdown_table(["rows", "contender", "seconds", "rows/s", "peak MB", "note"], table_rows),
            markdown_table(
                ["rows", "command ÷ floor (rows/s)", "script ÷ floor (rows/s)", "command ÷ MLflow (rows/s)"],
                ratios,
            ),
            "Aims (validation and rejects on):",
            aims_table(by_size),
            "The floor's own rows/s over MLflow's is the most any scorer of this model reaches against "
            "MLflow here: 5× MLflow lies beyond the floor.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(
            "batch", "Batch scoring: shipyard vs the in-process floor vs mlflow models predict", body
        )


if __name__ == "__main__":
    main()
