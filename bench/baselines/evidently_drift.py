"""Evidently's data-drift report on two Parquet files; run by bench/drift.py in bench/.venv-evidently.

Prints one JSON line: seconds for reading both files and running the report, peak memory, drifted columns.

    python evidently_drift.py REFERENCE.parquet CURRENT.parquet
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import evidently
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main(reference_path: str, current_path: str) -> None:
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference).dict()
    seconds = time.perf_counter() - started
    drifted = []
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold, method = metric["value"], config["threshold"], config["method"]
            is_p_value = "p_value" in method or "test" in method.lower()
            if (value < threshold) if is_p_value else (value >= threshold):
                drifted.append(config["column"])
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec from the (large) parent that started us.
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "drifted": sorted(drifted),
                "version": evidently.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
