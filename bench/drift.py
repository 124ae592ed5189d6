"""Drift benchmark: shipyard's drift check against Evidently's data-drift report and a plain scipy KS loop.

Data: 20 float columns (normal, each with its own mean and spread); the reference has N rows, the current
window N rows drawn the same way except 5 columns shifted by half a standard deviation. Sizes 100,000 and
1,000,000. Both tables are written to Parquet first, and every contender starts from those files, in a
fresh process of its own, so its time includes reading what it needs and its peak memory (the process's
maximum resident set, VmHWM) is its own:

* shipyard — what a monitoring window costs: read the version's stored reference profile (JSON, made once
  at registration and timed separately), stream the current window's Parquet one row group (100,000 rows) at
  a time into a profile with the reference's layout, and compare the two (``shipyard.stats.drift``). It never
  holds a table's rows, so its memory should not grow with the reference.
* Evidently (its own cached venv, bench/.venv-evidently) — ``Report([DataDriftPreset()])`` on the two
  tables read into pandas.
* scipy — ``scipy.stats.ks_2samp`` per column on the two tables, flagging p < 0.05.

Reported per size: wall time, peak memory, the columns each flagged (all should flag exactly the five
shifted ones), and shipyard's speed ratio to each.

    python bench/drift.py [--sizes 100000,1000000] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, write_section

HERE = Path(__file__).resolve().parent
EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
COLUMNS = [f"f{index}" for index in range(20)]
SHIFTED = ["f2", "f5", "f9", "f13", "f17"]
ROW_GROUP = 100_000
SEED = 7


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over an exec from the
    forked parent, so a child started by a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_tables(folder: Path, rows: int) -> tuple[Path, Path]:
    """The reference and current Parquet files for ``rows`` rows each, written one row group at a time."""
    rng = np.random.default_rng(SEED)
    means, spreads = rng.uniform(-10, 10, len(COLUMNS)), rng.uniform(0.5, 5, len(COLUMNS))
    paths = folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet"
    for path, shifted in zip(paths, (False, True), strict=True):
        schema = pa.schema([(name, pa.float64()) for name in COLUMNS])
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, rows, ROW_GROUP):
                size = min(ROW_GROUP, rows - start)
                block = rng.normal(means, spreads, size=(size, len(COLUMNS)))
                if shifted:
                    for name in SHIFTED:
                        index = COLUMNS.index(name)
                        block[:, index] += 0.5 * spreads[index]
                writer.write_table(
                    pa.table({name: block[:, i] for i, name in enumerate(COLUMNS)}, schema=schema)
                )
    return paths


def build_reference_profile(reference: Path, target: Path) -> float:
    """What registration does once: profile the reference rows and store the profile (seconds taken)."""
    from shipyard.stats import Profile

    started = time.perf_counter()
    profile = Profile.build(pq.read_table(reference))
    target.write_text(json.dumps(profile.to_dict()))
    return time.perf_counter() - started


def child_shipyard(profile_path: str, current_path: str) -> dict[str, Any]:
    from shipyard.stats import Profile
    from shipyard.stats.drift import compare

    started = time.perf_counter()
    reference = Profile.from_dict(json.loads(Path(profile_path).read_text()))
    window: Profile | None = None
    parquet = pq.ParquetFile(current_path)
    for index in range(parquet.num_row_groups):  # one row group at a time (iter_batches reads ahead)
        part = Profile.build(parquet.read_row_group(index), reference.layout)
        window = part if window is None else window.merge(part)
    assert window is not None
    result = compare(reference, window)
    return {"seconds": time.perf_counter() - started, "drifted": result.drifted_columns}


def child_scipy(reference_path: str, current_path: str) -> dict[str, Any]:
    from scipy import stats

    started = time.perf_counter()
    reference, current = pq.read_table(reference_path), pq.read_table(current_path)
    drifted = []
    for name in COLUMNS:
        a = reference[name].to_numpy()
        b = current[name].to_numpy()
        if stats.ks_2samp(a, b).pvalue < 0.05:
            drifted.append(name)
    return {"seconds": time.perf_counter() - started, "drifted": drifted}


def run_child(command: list[str]) -> dict[str, Any]:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return {"error": (completed.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", choices=["shipyard", "scipy"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        found = child_shipyard(*args.paths) if args.child == "shipyard" else child_scipy(*args.paths)
        found["peak_mb"] = peak_mb()
        print(json.dumps(found))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    rows_out: list[list[object]] = []
    ratios: list[list[object]] = []
    evidently_version = "n/a"
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-drift-") as scratch:
        folder = Path(scratch)
        for size in sizes:
            reference, current = write_tables(folder, size)
            profile = folder / f"profile-{size}.json"
            registration = build_reference_profile(reference, profile)
            me = [sys.executable, __file__]
            results = {
                "shipyard": run_child([*me, "--child", "shipyard", str(profile), str(current)]),
                "Evidently": run_child(
                    [
                        str(EVIDENTLY_PYTHON),
                        str(HERE / "baselines" / "evidently_drift.py"),
                        str(reference),
                        str(current),
                    ]
                )
                if EVIDENTLY_PYTHON.exists()
                else {"error": "bench/.venv-evidently is missing: run 'make bench-drift-deps'"},
                "scipy KS loop": run_child([*me, "--child", "scipy", str(reference), str(current)]),
            }
            evidently_version = results["Evidently"].get("version", evidently_version)
            for name, found in results.items():
                if "error" in found:
                    rows_out.append([f"{size:,}", name, "n/a", "n/a", found["error"], ""])
                    continue
                exact = "yes" if sorted(found["drifted"]) == sorted(SHIFTED) else "NO"
                rows_out.append(
                    [
                        f"{size:,}",
                        name,
                        f"{found['seconds']:.2f}",
                        f"{found['peak_mb']:.0f}",
                        ", ".join(found["drifted"]) or "none",
                        exact,
                    ]
                )
                print(
                    f"{size:>9,} {name:<14} {found['seconds']:8.2f} s {found['peak_mb']:8.0f} MB",
                    file=sys.stderr,
                )
            mine = results["shipyard"].get("seconds")
            ratios.append(
                [f"{size:,}", f"{registration:.2f}"]
                + [
                    f"{results[name]['seconds'] / mine:.1f}×"
                    if mine and "seconds" in results[name]
                    else "n/a"
                    for name in ("Evidently", "scipy KS loop")
                ]
            )
    body = "\n\n".join(
        [
            "Reference N × 20 float columns against a current window of N rows with 5 columns shifted by "
            "half a standard deviation (f2, f5, f9, f13, f17); each contender in a fresh process, reading "
            "the same Parquet files. shipyard reads the stored reference profile and streams the window "
            "100,000 rows at a time; Evidently and scipy read both tables.",
            markdown_table(
                ["rows (each side)", "contender", "seconds", "peak MB", "flagged", "exactly the 5"], rows_out
            ),
            markdown_table(
                [
                    "rows (each side)",
                    "shipyard reference profile, built once at registration (s)",
                    "Evidently ÷ shipyard (time)",
                    "scipy ÷ shipyard (time)",
                ],
                ratios,
            ),
            f"Evidently {evidently_version} with pandas < 3 (its own venv); shipyard's drift methods as in "
            "docs/monitoring.md (normalised Wasserstein ≥ 0.1 for windows over 1,000 rows, like Evidently's "
            "default).",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("drift", "Drift detection: shipyard vs Evidently vs a scipy KS loop", body)


if __name__ == "__main__":
    main()
