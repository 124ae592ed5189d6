"""The soak: a real two-worker server driven for SOAK_SECONDS with the three protocols and four batch sizes,
while its alias is promoted and rolled back every few seconds. Zero failed requests; each worker's memory
(RSS) is sampled throughout and its slope is reported, so a leak shows as a number, not a crash in a week.

The figures are printed and written to ``soak.json`` in the test's temporary folder.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from shipyard import Registry
from shipyard.gates import GatePolicy, promote
from shipyard.gates.policy import LatencyPolicy
from shipyard.training import train
from tests.models import transactions
from tests.reliability.bounds import LONG, SOAK_SECONDS
from tests.serving.conftest import fraud_spec, start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS = 3  # two cores, shared with the other tests: enough to keep both workers busy, no more
BATCH_SIZES = (1, 10, 100, 1000)
PROTOCOLS = ("native", "mlflow-json", "mlflow-csv", "oip")
ALIAS_MOVE_SECONDS = 3.0
RSS_SAMPLE_SECONDS = 2.0
#: Memory growth while models load and caches fill is not a leak: the slope is fitted after this.
WARM_UP_SECONDS = 60.0 if LONG else 12.0
#: A leak of one request's rows per request grows by hundreds of MiB a minute; noise over a short run
#: is a few MiB. The long run's ten minutes make a smaller bound meaningful.
MAX_SLOPE_MIB_PER_MINUTE = 4.0 if LONG else 20.0

#: A real gate on every promotion (artifact hash, schema), without the regression check (the soak's
#: versions are not meant to be better) and with the shortest latency probe (the server has the cores).
SOAK_GATE = GatePolicy(regression=None, latency=LatencyPolicy(repeats=10))

_RNG = np.random.default_rng(7)
_CHANNELS = np.array(["web", "app", "pos"])


@dataclass
class Tally:
    """What the clients saw, shared between their threads (Counter updates under one lock)."""

    sent: Counter[str] = field(default_factory=Counter)
    #: Versions named by the answers that name one (native and OIP): the alias moves reached the workers.
    versions: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, rows: int, failure: str | None, version: str | None) -> None:
        with self.lock:
            self.sent[kind] += 1
            if version is not None:
                self.versions[version] += 1
            self.rows += rows
            if failure is not None:
                self.failures.append(failure)


def _columns(rows: int) -> dict[str, list[object]]:
    return {
        "amount": [round(float(value), 2) for value in _RNG.lognormal(3.0, 1.0, size=rows)],
        "channel": [str(value) for value in _RNG.choice(_CHANNELS, size=rows)],
        "hour": [int(value) for value in _RNG.integers(0, 24, size=rows)],
    }


def _request(protocol: str, rows: int) -> tuple[str, dict[str, object]]:
    """One request as ``(path, httpx keyword arguments)``; each protocol in its own usual form."""
    columns = _columns(rows)
    records = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    if protocol == "native":
        return "/v1/models/fraud/predict", {"json": {"records": records}}
    if protocol == "mlflow-json":
        split = {"columns": list(columns), "data": [list(record.values()) for record in records]}
        return "/invocations", {"json": {"dataframe_split": split}}
    if protocol == "mlflow-csv":
        lines = ["amount,channel,hour", *(f"{r['amount']},{r['channel']},{r['hour']}" for r in records)]
        body = ("\n".join(lines) + "\n").encode()
        return "/invocations", {"content": body, "headers": {"content-type": "text/csv"}}
    inputs = [
        {"name": "amount", "shape": [rows], "datatype": "FP64", "data": columns["amount"]},
        {"name": "channel", "shape": [rows], "datatype": "BYTES", "data": columns["channel"]},
        {"name": "hour", "shape": [rows], "datatype": "INT64", "data": columns["hour"]},
    ]
    return "/v2/models/fraud/infer", {"json": {"inputs": inputs}}


def _predictions(protocol: str, body: dict[str, object]) -> int:
    """How many predictions a 200 answer carries, read the way that protocol's client reads it."""
    if protocol == "oip":
        outputs = body["outputs"]
        assert isinstance(outputs, list)
        predict = next(output for output in outputs if output["name"] == "predict")
        return int(predict["shape"][0])
    predictions = body["predictions"]
    assert isinstance(predictions, list)
    return len(predictions)


def _version(body: dict[str, object]) -> str | None:
    version = body.get("version", body.get("model_version"))
    return None if version is None else str(version)


def _drive(url: str, stop: threading.Event, tally: Tally, offset: int) -> None:
    """One client: every protocol with every batch size in turn, until told to stop."""
    plan = list(itertools.product(PROTOCOLS, BATCH_SIZES))
    mix = itertools.islice(itertools.cycle(plan), offset, None)
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for protocol, rows in mix:
            if stop.is_set():
                return
            path, arguments = _request(protocol, rows)
            failure, version = None, None
            try:
                response = client.post(path, **arguments)  # type: ignore[arg-type]
                if response.status_code != 200:
                    failure = f"{protocol} {rows} rows: {response.status_code} {response.text[:300]}"
                elif (count := _predictions(protocol, response.json())) != rows:
                    failure = f"{protocol} {rows} rows: 200 with {count} predictions"
                else:
                    version = _version(response.json())
            except (httpx.HTTPError, ValueError, KeyError, StopIteration) as exc:
                failure = f"{protocol} {rows} rows: {type(exc).__name__}: {exc}"
            tally.record(f"{protocol}/{rows}", rows, failure, version)


def _move_alias(home: Path, stop: threading.Event, moves: list[str], errors: list[str]) -> None:
    """Promote v2, promote v3, roll back to v2, roll back to v1; again, every few seconds."""
    steps: list[Callable[[Registry], object]] = [
        lambda registry: promote(registry, "fraud/2", "production", policy=SOAK_GATE),
        lambda registry: promote(registry, "fraud/3", "production", policy=SOAK_GATE),
        lambda registry: registry.rollback("fraud@production", reason="soak"),
        lambda registry: registry.rollback("fraud@production", reason="soak"),
    ]
    for number, step in enumerate(itertools.cycle(steps)):
        if stop.wait(ALIAS_MOVE_SECONDS):
            return
        try:
            with Registry(home=home, actor="soak") as registry:
                step(registry)
                moves.append(registry.resolve("fraud@production").ref)
        except Exception as exc:  # the soak reports every failure at the end rather than dying here
            errors.append(f"alias move {number}: {type(exc).__name__}: {exc}")


def _workers(server_pid: int, port: int) -> list[psutil.Process]:
    """The uvicorn workers: the server's children holding its listening socket (the sidecars hold none)."""
    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            sockets = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == port for s in sockets):
            found.append(child)
    return found


def _sample_rss(
    server_pid: int, port: int, stop: threading.Event, samples: dict[int, list[tuple[float, float]]]
) -> None:
    started = time.monotonic()
    while not stop.wait(RSS_SAMPLE_SECONDS):
        for worker in _workers(server_pid, port):
            try:
                rss = worker.memory_info().rss / 2**20
            except psutil.Error:
                continue
            samples.setdefault(worker.pid, []).append((time.monotonic() - started, rss))


def rss_slope(samples: list[tuple[float, float]], after: float) -> float | None:
    """MiB per minute, least squares over the samples taken after ``after`` seconds."""
    kept = [(at, rss) for at, rss in samples if at >= after]
    if len(kept) < 3:
        return None
    seconds, mebibytes = np.array(kept).T
    return float(np.polyfit(seconds / 60.0, mebibytes, 1)[0])


@pytest.fixture
def soak_workspace(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "ws"
    with Registry(home=home, actor="tests") as registry:
        registry.datasets.add("tx", transactions(rows=600))
        for params in ({}, {"C": 0.5}, {"C": 0.2}):
            train(fraud_spec(**params), registry=registry, progress=False)
        promote(registry, "fraud/1", "production", policy=SOAK_GATE)
    yield home


def test_soak_mixed_protocols_and_alias_moves_fail_no_request(soak_workspace: Path, tmp_path: Path) -> None:
    server = start_server(soak_workspace, ["fraud@production"], workers=2)
    port = int(server.url.rsplit(":", 1)[1])
    stop, tally = threading.Event(), Tally()
    moves: list[str] = []
    move_errors: list[str] = []
    samples: dict[int, list[tuple[float, float]]] = {}
    threads = [
        threading.Thread(target=_drive, args=(server.url, stop, tally, offset * 5), name=f"client-{offset}")
        for offset in range(CLIENTS)
    ]
    threads.append(threading.Thread(target=_move_alias, args=(soak_workspace, stop, moves, move_errors)))
    threads.append(threading.Thread(target=_sample_rss, args=(server.process.pid, port, stop, samples)))
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        stop.wait(SOAK_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        elapsed = time.monotonic() - started
        workers_at_end = sorted(worker.pid for worker in _workers(server.process.pid, port))
        stop_server(server)

    slopes = {pid: rss_slope(points, WARM_UP_SECONDS) for pid, points in samples.items()}
    report = {
        "seconds": round(elapsed, 1),
        "clients": CLIENTS,
        "requests": sum(tally.sent.values()),
        "rows": tally.rows,
        "requests_by_kind": dict(sorted(tally.sent.items())),
        "failures": len(tally.failures),
        "answers_by_version": dict(sorted(tally.versions.items())),
        "alias_moves": len(moves),
        "alias_move_errors": move_errors,
        "workers_at_end": workers_at_end,
        "rss_mib": {
            str(pid): [[round(at, 1), round(rss, 1)] for at, rss in points] for pid, points in samples.items()
        },
        "rss_slope_mib_per_minute": {
            str(pid): None if s is None else round(s, 2) for pid, s in slopes.items()
        },
        "rss_slope_bound": MAX_SLOPE_MIB_PER_MINUTE,
        "warm_up_seconds": WARM_UP_SECONDS,
    }
    figures = tmp_path / "soak.json"
    figures.write_text(json.dumps(report, indent=2))
    print(
        f"\nsoak: {report['requests']} requests ({tally.rows} rows) in {elapsed:.0f} s, "
        f"{len(tally.failures)} failed, {len(moves)} alias moves; "
        f"RSS slope MiB/min per worker {report['rss_slope_mib_per_minute']}; figures in {figures}"
    )

    assert not tally.failures, (
        "\n".join(tally.failures[:20]) + f"\n\nserver log:\n{server.log_text()[-4000:]}"
    )
    assert not move_errors, move_errors
    assert len(moves) >= SOAK_SECONDS / ALIAS_MOVE_SECONDS / 2, moves
    assert set(tally.sent) == {f"{p}/{n}" for p in PROTOCOLS for n in BATCH_SIZES}, tally.sent
    assert set(tally.versions) == {"1", "2", "3"}, f"every version served in turn: {tally.versions}"
    assert len(samples) >= 2, f"expected RSS samples of two workers, got {sorted(samples)}"
    measured = {pid: slope for pid, slope in slopes.items() if slope is not None}
    assert measured, "no worker lived long enough past the warm-up to fit a slope"
    leaking = {pid: slope for pid, slope in measured.items() if slope > MAX_SLOPE_MIB_PER_MINUTE}
    assert not leaking, f"RSS grows faster than {MAX_SLOPE_MIB_PER_MINUTE} MiB/min: {leaking}; see {figures}"
