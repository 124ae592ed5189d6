"""Control-plane benchmark: dashboard pages, alias resolution over HTTP and remote registration.

The workspace: 50 models with 200 versions in all (small scikit-learn classifiers, each registered with a
reference frame, so every version has a contract and a reference profile), aliases moved several times, and
30 days of hourly monitoring windows for a few models. The windows are made the way production makes them
for two template hours (real traffic in a real prediction log, labels attached, failures and CPU/memory
samples, ``monitor_window``: one calm hour, one hour whose amounts drift); each of the 720 hours stores a
copy of one of them, its counts and latencies varied by the hour of day, through ``save_window`` (the path
``run_monitors`` stores with). Computing 2,000 windows from real traffic would take far longer than the
reads we measure.

``shipyard server --auth`` runs in a subprocess on 127.0.0.1 with a user and an API token; httpx (one
keep-alive connection) measures:

* each dashboard page kind, signed in with a session cookie: time to the last byte, median and p95 of N
  requests after a warm-up (aim: under 300 ms);
* ``GET /api/v1/models/{m}/aliases/production`` with a bearer token, 1,000 calls (aim: median under 5 ms);
  baseline in the same run, ``Registry.resolve`` in process on the same database;
* ``RemoteRegistry.register`` of a small model with a reference frame against ``Registry.register`` of the
  same model in process (aim: within 2×).

    python bench/control_plane.py [--requests 30] [--database-url postgresql://…] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Timing, markdown_table, measure, verdict, write_section
from shipyard import Registry
from shipyard.access import AccessService
from shipyard.client import RemoteRegistry
from shipyard.ids import new_request_id, prediction_id
from shipyard.monitoring import attach_labels
from shipyard.monitoring.series import save_window
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.predictions.events import FailedRequest, UsageSample
from shipyard.registry import ModelVersion
from shipyard.workspace import init_workspace

HOUR = timedelta(hours=1)
FEATURES = ["amount", "hour", "account_age", "merchant_risk"]
PASSWORD = "bench-password-long-enough-1"
EXTRA_PAGES = ("/alerts", "/rollouts", "/batch", "/audit")
PAGE_AIM_MS, RESOLVE_AIM_MS, REGISTER_AIM_RATIO = 300.0, 5.0, 2.0
#: What profiling the pages found (December 2026), written under the figures.
FINDINGS = """What profiling found (py-spy and cProfile on the 30-day model page, December 2026). The first
run measured that page at 235 ms median and 455 ms p95 (SQLite, while other work kept the load at 3-4).
Reading the 720 stored reports as ORM entities decoded by the standard json module took about half of it;
they are now read as plain columns and decoded with orjson, the newest window is found without sorting
whole reports, and the charts format each window's start once and index each window's drift columns once
(the figures are unchanged). A full garbage collection of the server's heap (about 150 ms, most of it the
imported libraries) landed on one request in six, the whole gap between median and p95: the server now
calls `gc.freeze()` once it has started. The figures' JSON (`templates.figure_json`, 775 KB on that page)
is written with orjson (30 ms → about 1.5 ms). An alias resolve over HTTP is one joined read of the token
and its user (plain columns, no ORM objects), the alias's own reads, and the HTTP stack; on PostgreSQL each
read is a network round trip (`Registry.resolve` alone takes about 3 ms there), so it stays above 5 ms
there; a short-lived authentication cache would trade revocation's immediacy for it, and is not made."""


# -- the workspace -----------------------------------------------------------------------------------------
def transactions(rows: int, seed: int, shift: float = 1.0) -> pd.DataFrame:
    """Rows of the four features and a ``fraud`` target; ``shift`` scales the amounts (drift)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.5, 0.8, rows) * shift,
            "hour": rng.integers(0, 24, rows).astype(float),
            "account_age": rng.exponential(400.0, rows),
            "merchant_risk": rng.beta(2.0, 5.0, rows),
        }
    )
    score = 0.02 * frame["amount"] / shift + 3 * frame["merchant_risk"] - frame["account_age"] / 500
    frame["fraud"] = (score + rng.normal(0, 0.5, rows) > 1.5).astype(int)
    return frame


def classifier(frame: pd.DataFrame, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(frame[FEATURES], frame["fraud"])


def register_models(registry: Registry, models: int, versions: int, reference: pd.DataFrame) -> list[str]:
    """``models`` models with ``versions`` versions in all; production and staging moved along the way."""
    names = [f"model-{index:02d}" for index in range(models)]
    counts = [versions // models + (1 if index < versions % models else 0) for index in range(models)]
    sample = reference[FEATURES]
    for index, (name, count) in enumerate(zip(names, counts, strict=True)):
        for number in range(1, count + 1):
            fitted = classifier(reference, c=0.5 + index / 100 + number / 10)
            registry.register(name, fitted, reference=sample, description=f"{name} version {number}")
            registry.set_alias(name, "staging", number, reason="candidate")
            if number > 1:
                registry.set_alias(name, "production", number - 1, reason="promoted after staging")
        registry.set_alias(name, "production", count, reason="promoted")
        if count > 1:
            registry.rollback(f"{name}@production", reason="error rate up")
    return names


def serve_hour(
    registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime, writer: LogWriter
) -> list[tuple[str, int]]:
    """``frame`` answered in requests of 5 rows at ``at``, logged as the server logs them, with two server
    errors and two CPU/memory samples; the prediction ids with their true label."""
    model = registry.load_model(version.ref)
    labelled = []
    for start in range(0, len(frame), 5):
        rows = frame.iloc[start : start + 5].reset_index(drop=True)
        labels, probabilities = model.predict_with_proba(rows[FEATURES])
        request = new_request_id(at)
        ids = [prediction_id(request, i) for i in range(len(rows))]
        latency = 0.002 + (start % 97) * 2e-5
        record = PredictionRecord(
            request, ids, at, version.model, version.version, "native", rows[FEATURES],
            np.asarray(labels), probabilities, latency,
        )  # fmt: skip
        writer.submit(record)
        labelled += list(zip(ids, rows["fraud"].tolist(), strict=True))
    for status, error in ((503, "overloaded"), (500, "model_error")):
        failed = FailedRequest(
            new_request_id(at), at, version.model, version.version, "native", status, error, 1, 0.003, ()
        )
        writer.submit_failure(failed)
    for offset, cpu, rss in ((0, 10.0, 200_000_000), (1800, 400.0, 260_000_000)):
        served = ((version.model, version.version),)
        writer.submit_usage(UsageSample(at + timedelta(seconds=offset), "host:1:0", cpu, rss, served))
    return labelled


def template_windows(registry: Registry, version: ModelVersion, start: datetime) -> list[WindowResult]:
    """Two real windows of ``version``: a calm hour and an hour whose amounts are 4× larger (drift)."""
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    labelled = []
    for hour, shift in enumerate((1.0, 4.0)):
        frame = transactions(1000, seed=100 + hour, shift=shift)
        labelled += serve_hour(registry, version, frame, start + hour * HOUR + timedelta(minutes=10), writer)
    writer.close()
    log = PredictionLog(registry.settings.log_url)
    attach_labels(registry, log, labelled[::2], settle_seconds=0)
    return [monitor_window(registry, log, version, start + h * HOUR, start + (h + 1) * HOUR) for h in (0, 1)]


def store_month(registry: Registry, templates: list[WindowResult], end: datetime, days: int) -> int:
    """One stored window per hour of the ``days`` before ``end``: the calm template, the drifting one on
    every fifth day, counts and latencies following the hour of day."""
    calm, drifting = templates
    hours = days * 24
    for index in range(hours):
        start = end - (hours - index) * HOUR
        template = drifting if (index // 24) % 5 == 4 else calm
        load = 0.6 + 0.4 * math.sin(2 * math.pi * start.hour / 24)
        health = {
            key: (value * (1.5 - load / 2) if value is not None else None)
            for key, value in template.health.items()
        }
        result = dataclasses.replace(
            template,
            start=start,
            end=start + HOUR,
            requests=int(template.requests * load),
            estimated_requests=template.estimated_requests * load,
            rows=int(template.rows * load),
            failed_requests=float(index % 7 == 0) * template.failed_requests,
            health=health,
        )
        save_window(registry, result, HOUR)
    return hours


def build_workspace(home: Path, models: int, versions: int, monitored: int, days: int) -> list[str]:
    """The workspace described at the top; the names of its models, the monitored ones first."""
    settings = init_workspace(home)
    reference = transactions(500, seed=1)
    with Registry(settings, actor="bench") as registry:
        names = register_models(registry, models, versions, reference)
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for name in names[:monitored]:
            version = registry.resolve(f"{name}@production")
            templates = template_windows(registry, version, end - (days * 24 + 4) * HOUR)
            store_month(registry, templates, end, days)
        access = AccessService(registry.db, registry.actor)
        access.create_user("bench", "admin", PASSWORD)
    return names


def api_token(home: Path) -> str:
    with Registry(home=home, actor="bench") as registry:
        return AccessService(registry.db, registry.actor).issue_token("bench", "bench", None).secret


# -- the server --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def control_server(home: Path) -> Iterator[str]:
    """``shipyard server --auth`` on a free loopback port, until the block ends."""
    port = free_port()
    shipyard = Path(sys.executable).parent / "shipyard"
    command = [
        str(shipyard),
        "--home",
        str(home),
        "server",
        "--auth",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"shipyard server exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("shipyard server did not answer /health within 60 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- measurements ------------------------------------------------------------------------------------------
def timed_gets(client: httpx.Client, path: str, count: int, warm_up: int = 5) -> Timing:
    """Time to the last byte of ``count`` GETs of ``path`` (each must answer 200)."""

    def get(_: int) -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")

    for index in range(warm_up):
        get(index)
    return measure(path, get, count)


def dashboard_pages(client: httpx.Client, model: str, version: int) -> list[tuple[str, str]]:
    """The page kinds to time: ``(what, path)``; the optional pages only when this server has them."""
    pages = [
        ("models list", "/models"),
        ("model page, default 7 days of windows", f"/models/{model}"),
        ("model page, 30 days of windows", f"/models/{model}?days=30"),
        ("version page", f"/models/{model}/versions/{version}"),
    ]
    for path in EXTRA_PAGES:
        if client.get(path).status_code == 200:
            pages.append((f"{path.strip('/')} page", path))
    return pages


def bench_pages(url: str, model: str, version: int, requests: int) -> list[tuple[str, Timing, int]]:
    with httpx.Client(base_url=url, timeout=60) as client:
        signed_in = client.post("/login", data={"username": "bench", "password": PASSWORD, "next": "/models"})
        if signed_in.status_code != 303:
            raise RuntimeError(f"signing in answered {signed_in.status_code}")
        rows = []
        for what, path in dashboard_pages(client, model, version):
            timing = timed_gets(client, path, requests)
            last = client.get(path)
            if path.startswith(f"/models/{model}?") and 'class="no-data"' in last.text:
                raise RuntimeError(f"{path} shows no monitored traffic: its charts are empty")
            rows.append((what, timing, last.num_bytes_downloaded))
        return rows


def bench_resolve(url: str, home: Path, token: str, model: str, calls: int) -> tuple[Timing, Timing]:
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        remote = timed_gets(client, f"/api/v1/models/{model}/aliases/production", calls, warm_up=50)
    with Registry(home=home, actor="bench") as registry:
        for _ in range(50):
            registry.resolve(f"{model}@production")
        direct = measure("direct", lambda _: registry.resolve(f"{model}@production"), calls)
    return remote, direct


def bench_register(url: str, home: Path, token: str, count: int) -> tuple[Timing, Timing]:
    """The same small model with the same reference frame, registered ``count`` times each way, the two
    ways taking turns so a change in the machine's load hits both."""
    reference = transactions(500, seed=2)
    fitted = classifier(reference, c=1.0)
    frame = reference[FEATURES]
    samples: dict[str, list[float]] = {"remote": [], "direct": []}
    with RemoteRegistry(url, token) as remote, Registry(home=home, actor="bench") as direct:
        remote.register("bench-remote", fitted, reference=frame)  # warm-up: first-use costs on both sides
        direct.register("bench-direct", fitted, reference=frame)
        for _ in range(count):
            for way, registry in (("remote", remote), ("direct", direct)):
                started = time.perf_counter()
                registry.register(f"bench-{way}", fitted, reference=frame)
                samples[way].append(time.perf_counter() - started)
    return Timing("remote", tuple(samples["remote"])), Timing("direct", tuple(samples["direct"]))


@dataclasses.dataclass(frozen=True)
class Measured:
    """One run's figures, against one fresh server on the same workspace."""

    pages: list[tuple[str, Timing, int]]
    resolve: tuple[Timing, Timing]
    register: tuple[Timing, Timing]
    load: tuple[float, float]


def p95_ms(timing: Timing) -> float:
    ordered = sorted(timing.samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def middle(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], digits: int) -> str:
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def page_rows(runs: list[Measured]) -> list[list[object]]:
    """A row per page: the median run's median and p95, the p95 of every run, and the verdict on the
    median run's p95."""
    rows: list[list[object]] = []
    for index, (what, first, _) in enumerate(runs[0].pages):
        timings = [run.pages[index][1] for run in runs]
        medians, p95s = [t.median_ms for t in timings], [p95_ms(t) for t in timings]
        size = middle([run.pages[index][2] for run in runs]) / 1024
        rows.append(
            [
                what,
                f"`{first.label}`",
                first.count,
                f"{middle(medians):.1f}",
                f"{middle(p95s):.1f}",
                spread(p95s, 1),
                f"{size:,.0f}",
                verdict(middle(p95s) < PAGE_AIM_MS),
            ]
        )
    return rows


def compared_row(
    what: str, pairs: list[tuple[Timing, Timing]], baseline_name: str, aim: str, digits: int
) -> tuple[list[object], float, float]:
    """A table row: ours against the in-process baseline of the same run, as a ratio; the median run's
    median and ratio."""
    ours, theirs = [o.median_ms for o, _ in pairs], [t.median_ms for _, t in pairs]
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    row: list[object] = [
        what,
        pairs[0][0].count,
        f"{middle(ours):.{digits}f} ({spread(ours, digits)})",
        f"{middle([o.p99_ms for o, _ in pairs]):.{digits}f}",
        f"{middle(theirs):.3f} ({baseline_name})",
        f"{middle(ratios):.2f}× ({spread(ratios, 2)})",
        aim,
    ]
    return row, middle(ours), middle(ratios)


def report(args: argparse.Namespace, backend: str, runs: list[Measured], context: str) -> str:
    columns = ["page", "path", "requests", "median ms", "p95 ms", "p95 ms, each run", "KiB sent (gzip)"]
    page_table = markdown_table([*columns, f"aim p95 < {PAGE_AIM_MS:.0f} ms"], page_rows(runs))
    resolve, resolve_ms, _ = compared_row(
        "GET `/api/v1/models/{m}/aliases/production`",
        [run.resolve for run in runs],
        "`Registry.resolve`",
        f"median < {RESOLVE_AIM_MS:.0f} ms",
        2,
    )
    register, _, register_ratio = compared_row(
        "`RemoteRegistry.register` (model + 500-row reference)",
        [run.register for run in runs],
        "`Registry.register`",
        f"≤ {REGISTER_AIM_RATIO:.0f}×",
        1,
    )
    resolve.append(verdict(resolve_ms < RESOLVE_AIM_MS))
    register.append(verdict(register_ratio <= REGISTER_AIM_RATIO))
    columns = ["operation", "calls", "median ms (runs)", "p99 ms", "in process median ms", "ratio (runs)"]
    loads = ", ".join(f"{before:.1f}→{after:.1f}" for before, after in (run.load for run in runs))
    header = (
        f"**{backend}.** {context} {len(runs)} run(s), each against a freshly started server; a figure is "
        f"the median run's, with the range over the runs. Load average (1 min) before→after each run: "
        f"{loads}, on {os.cpu_count()} cores."
    )
    pages_intro = (
        "Dashboard pages (signed in with a session cookie; time to the last byte over one keep-alive "
        f"connection, gzip as a browser asks, {args.requests} requests after 5 warm-up requests):"
    )
    api_table = markdown_table([*columns, "aim", "verdict"], [resolve, register])
    return f"{header}\n\n{pages_intro}\n\n{page_table}\n\nManagement API and remote client:\n\n{api_table}\n"


def measure_once(args: argparse.Namespace, home: Path, token: str, model: str, version: int) -> Measured:
    before = os.getloadavg()[0]
    with control_server(home) as url:
        pages = bench_pages(url, model, version, args.requests)
        resolve = bench_resolve(url, home, token, model, args.resolves)
        register = bench_register(url, home, token, args.registers)
    return Measured(pages, resolve, register, (before, os.getloadavg()[0]))


def run(args: argparse.Namespace, scratch: Path, backend: str) -> str:
    started = time.perf_counter()
    home = scratch / "ws"
    names = build_workspace(home, args.models, args.versions, args.monitored, args.days)
    built = time.perf_counter() - started
    token = api_token(home)
    with Registry(home=home, actor="bench") as registry:
        newest = registry.list_versions(names[0])[-1].version
    runs = []
    for number in range(args.runs):
        runs.append(measure_once(args, home, token, names[0], newest))
        print(f"run {number + 1} of {args.runs} done", file=sys.stderr)
    context = (
        f"{args.models} models, {args.versions} versions, {args.monitored} models with {args.days} days of "
        f"hourly windows ({args.monitored * args.days * 24:,} windows), built in {built:.0f} s."
    )
    return report(args, backend, runs, context)


def on_backend(args: argparse.Namespace, backend: str, server: str | None) -> str:
    """The benchmark on SQLite (``server`` None) or in a fresh schema of the PostgreSQL ``server``."""
    schema = None
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-control-") as scratch:
        if server:
            from registry import drop_schema, postgres_schema_url

            url, schema = postgres_schema_url(server)
            os.environ["SHIPYARD_REGISTRY_URL"] = url  # this process and the server it starts
        try:
            return run(args, Path(scratch), backend)
        finally:
            os.environ.pop("SHIPYARD_REGISTRY_URL", None)
            if server and schema:
                drop_schema(server, schema)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--monitored", type=int, default=3, help="models with monitoring windows")
    parser.add_argument("--days", type=int, default=30, help="days of hourly windows per monitored model")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per dashboard page")
    parser.add_argument("--resolves", type=int, default=1000)
    parser.add_argument("--registers", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="measurement runs, each with a fresh server")
    parser.add_argument("--time-limit", type=int, default=1800, help="seconds before the benchmark gives up")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to measure as well as SQLite (in a schema of its own)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(args.time_limit)  # the server is stopped on the way out (control_server's finally)

    bodies = [on_backend(args, "SQLite", None)]
    if args.database_url:
        bodies.append(on_backend(args, "PostgreSQL", args.database_url))
    body = "\n\n".join(bodies)
    print(body)
    if args.no_write:
        return
    how = (
        "`python bench/control_plane.py` (`make bench-control-plane`) — builds the workspace, starts "
        "`shipyard server --auth` on 127.0.0.1 and measures it with httpx. The 30 days of windows are two "
        "real monitored hours per model (real traffic, labels, failures and CPU/memory samples through "
        "`monitor_window`) stored once per hour through `save_window`, the path `run_monitors` stores with, "
        "their counts and latencies varied by the hour of day. The model page measured is a monitored "
        "model's. The workspace has no alert rules, rollouts or batch runs, so the alerts, rollouts and "
        "batch pages (timed when the server has them) show their fixed cost only; the audit page lists the "
        "registrations and alias moves. The baselines run in the benchmark's process on the same database "
        "while the server idles.\n\n"
    )
    write_section(
        "control-plane",
        "Control plane: dashboard pages, alias resolution, remote registration",
        how + body + "\n" + FINDINGS,
    )


def _out_of_time(signum: int, frame: object) -> None:
    raise TimeoutError("the benchmark ran past --time-limit; nothing was written")


if __name__ == "__main__":
    main()
