"""Prediction-log benchmark: what the writer sustains, and what logging costs a serving worker.

1. The writer alone, in-process: single-row records as the server hands them over (20 float inputs, a label,
   two probabilities), 2,000 per flush (a second of a busy worker), written as Parquet segments to a
   temporary folder; records per second of flush time, and the time of one flush.
2. Serving with the log on and off: the serving benchmark's model and workload
   (bench/serving.py: HistGradientBoostingClassifier, 2 workers, wrk from the same machine, single-row
   requests at concurrency 16 and 64), two shipyard servers identical but for ``--no-log``, both with
   ``--no-monitor`` so only the log differs; ``--repetitions`` rounds of ``--duration`` seconds, servers
   taking turns, medians. The cost is 1 − (requests/s with the log ÷ requests/s without).

    python bench/prediction_log.py [--duration 10] [--repetitions 3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, write_section
from serving import FEATURES, LUA_SCRIPT, Run, Server, run_wrk, shipyard_server, verify
from shipyard.ids import new_request_id, prediction_id
from shipyard.predictions import LogWriter, PredictionRecord

FLUSH_RECORDS = 2_000
CONCURRENCIES = (16, 64)


def writer_throughput(flushes: int = 50) -> tuple[float, float]:
    """(records per second of flush time, median milliseconds per flush of 2,000 records), on a local
    folder."""
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-log-") as folder:
        return log_throughput(folder, flushes)


def log_throughput(url: str, flushes: int) -> tuple[float, float]:
    """(records per second of flush time, median milliseconds per flush of FLUSH_RECORDS single-row records
    of 20 float inputs) of a LogWriter writing to ``url`` (a folder, or an object store)."""
    columns = pd.Index(FEATURES)
    rng = np.random.default_rng(0)
    writer = LogWriter(url, flush_seconds=3600)
    durations = []
    try:
        for _ in range(flushes):
            for _ in range(FLUSH_RECORDS):
                request = new_request_id()
                writer.submit(
                    PredictionRecord(
                        request,
                        [prediction_id(request, 0)],
                        datetime.now(UTC),
                        "bench",
                        1,
                        "native",
                        pd.DataFrame(rng.normal(size=(1, 20)), columns=columns),
                        np.array([1]),
                        np.array([[0.3, 0.7]]),
                        0.002,
                    )
                )
            started = time.perf_counter()
            writer.flush()
            durations.append(time.perf_counter() - started)
    finally:
        writer.close()
    return FLUSH_RECORDS * flushes / sum(durations), statistics.median(durations) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    per_second, per_flush_ms = writer_throughput()
    print(
        f"writer: {per_second:,.0f} records/s, {per_flush_ms:.1f} ms per {FLUSH_RECORDS} records",
        file=sys.stderr,
    )

    features_array, target = make_classification(n_samples=50_000, n_features=20, random_state=0)
    features = pd.DataFrame(features_array, columns=FEATURES)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(features, target)
    frame = features.iloc[:1]
    runs: dict[tuple[str, int], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-log-serving-") as scratch, threadpool_limits(1):
        work = Path(scratch)
        servers: list[Server] = [
            shipyard_server(work, model, features, name="log on", options=["--no-monitor"]),
            shipyard_server(work, model, features, name="log off", options=["--no-monitor", "--no-log"]),
        ]
        try:
            scripts = {}
            for server in servers:
                server.start()
                verify(server, model, {1: frame})
                body = work / f"{server.name}.json"
                body.write_bytes(server.body(frame))
                script = work / f"{server.name}.lua"
                script.write_text(LUA_SCRIPT.replace("__BODY_FILE__", json.dumps(str(body))))
                scripts[server.name] = script
            for _ in range(args.repetitions):
                for connections in CONCURRENCIES:
                    for server in servers:
                        url = server.url(server.predict_path)
                        run_wrk(url, scripts[server.name], connections, 3)  # warm-up
                        runs.setdefault((server.name, connections), []).append(
                            run_wrk(url, scripts[server.name], connections, args.duration)
                        )
                        print(
                            f"{server.name} c={connections}: {runs[(server.name, connections)][-1]}",
                            file=sys.stderr,
                        )
        finally:
            for server in servers:
                server.stop()

    rows = []
    for connections in CONCURRENCIES:
        on = [run.requests_per_second for run in runs[("log on", connections)]]
        off = [run.requests_per_second for run in runs[("log off", connections)]]
        p99_on = statistics.median(run.p99_ms for run in runs[("log on", connections)])
        p99_off = statistics.median(run.p99_ms for run in runs[("log off", connections)])
        errors = sum(
            run.errors for key in (("log on", connections), ("log off", connections)) for run in runs[key]
        )
        cost = 1 - statistics.median(on) / statistics.median(off)
        rows.append(
            [
                f"1 row, c={connections}",
                f"{statistics.median(off):,.0f}",
                f"{statistics.median(on):,.0f}",
                f"{cost:.1%}",
                f"{p99_off:.1f}",
                f"{p99_on:.1f}",
                errors,
            ]
        )
    body = "\n\n".join(
        [
            f"Writer alone: **{per_second:,.0f} records/s** of flush time; one flush of {FLUSH_RECORDS:,} "
            f"single-row records (20 float inputs, label, probabilities) takes {per_flush_ms:.1f} ms.",
            markdown_table(
                ["workload", "req/s, log off", "req/s, log on", "cost", "p99 ms off", "p99 ms on", "errors"],
                rows,
            ),
            "Two `shipyard serve bench@production --workers 2 --no-monitor` servers, one with `--no-log`; "
            f"wrk, {args.duration} s per run after a 3 s warm-up, {args.repetitions} rounds taking turns, "
            "medians. "
            "Aim: logging costs under 10% of throughput.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("prediction-log", "Prediction log: writer throughput and serving cost", body)


if __name__ == "__main__":
    main()
