"""Serving benchmark: real-time predictions from shipyard, MLflow and BentoML serving the same model.

The model is a HistGradientBoostingClassifier (100 iterations) fitted on ``make_classification`` (50,000
rows × 20 features f0…f19, seed 0). shipyard serves it from a temporary workspace (``shipyard serve
bench@production --workers 2``); the baselines, each in its own cached virtualenv (``make bench`` creates
them, and this script asks make for them when they are missing), load the very same fitted object from a
joblib dump: MLflow as ``mlflow models serve --env-manager local --workers 2`` after
``mlflow.sklearn.save_model`` (bench/baselines/mlflow_serving_model.py), BentoML as a 1.2+-style service with
adaptive batching and two workers (bench/baselines/bentoml_service.py). All three run with one BLAS/OpenMP
thread per worker, shipyard's default, so two workers share the two cores without oversubscribing them.
Before anything is timed, each server must answer a single-row and a 100-row request with exactly the labels
the model's own ``predict`` gives.

wrk, on the same machine and against 127.0.0.1 only, POSTs one fixed body per scenario — one row at
concurrency 1, 16 and 64, and 100 rows at concurrency 16 — for ``--duration`` seconds after a ``--warmup``
(3 s) at the same concurrency, ``--repetitions`` times; the servers take turns within each repetition so a
change in the machine's background load hits all of them alike. Reported: medians over the repetitions of
requests/s, p50 and p99 latency, and every error (connect, read, write, timeout, and non-2xx answers, which
wrk counts as any status ≥ 400) summed over the repetitions; and, since the machine is shared, how much of
the CPU other work took during the timed runs (all busy time in /proc/stat minus what the servers' process
trees, wrk and this script used). A baseline that cannot be installed, started or verified is reported as
n/a with the reason; the others still run.

Rollouts (shipyard only, the ``rollouts`` part; docs/benchmarks.md's "Rollouts in shipyard serve" section):
one more ``shipyard serve bench@production --workers 2`` whose workspace also holds version 2, the same
estimator refitted (so the candidate is no slower than stable). Through ``shipyard.rollouts`` the script
switches it between no rollout, a 50% canary and a shadow rollout, waits until every worker routes by the
new state (each worker's own /health/ready), and times 1-row requests at c=16 and c=64 with wrk exactly as
above, the three states taking turns within each repetition (their order rotating). Then 20 aborts: each
starts a 50% canary, waits until every worker has answered with both arms, calls ``rollouts.abort``, and
stamps the last ``canary`` answer (``X-Shipyard-Arm``) seen after ``abort`` returned, while two keep-alive
connections per worker (mapped to their worker with psutil) send requests without pause from a thread each.

    python bench/serving.py [--duration 20] [--repetitions 3] [--servers shipyard,mlflow,bentoml]
                            [--parts servers,rollouts] [--aborts 20] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _rollouts
from _report import machine, markdown_table, measure, write_section
from shipyard import Contract, Registry, VersionMetadata, __version__, rollouts
from shipyard.flavors.sklearn import SklearnModel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MLFLOW_VENV = HERE / ".venv-mlflow"
BENTOML_VENV = HERE / ".venv-bentoml"
MODEL_NAME = "bench"
FEATURES = [f"f{index}" for index in range(20)]
WORKERS = 2
READY_TIMEOUT = 180.0
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SERVER_NAMES = {"shipyard": "shipyard", "mlflow": "MLflow", "bentoml": "BentoML"}

LUA_SCRIPT = """-- Written by bench/serving.py: POST one fixed JSON body; print the summary as a JSON line.
local file = assert(io.open(__BODY_FILE__, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %.1f, "p99_us": %.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


class Unavailable(Exception):
    """A server that could not be installed, started or verified; the message is the report's reason."""


@dataclass(frozen=True)
class Scenario:
    label: str
    rows: int
    connections: int


SCENARIOS = (
    Scenario("1 row, c=1", 1, 1),
    Scenario("1 row, c=16", 1, 16),
    Scenario("1 row, c=64", 1, 64),
    Scenario("100 rows, c=16", 100, 16),
)


@dataclass(frozen=True)
class Run:
    """One wrk run's summary."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Server:
    """One server under test: how to start it, where to send rows, and how to encode and read them."""

    name: str
    command: list[str]
    environment: dict[str, str]
    port: int
    ready_path: str
    predict_path: str
    encode: Callable[[pd.DataFrame], Any]
    decode: Callable[[Any], list[Any]]
    version: str
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def body(self, frame: pd.DataFrame) -> bytes:
        return json.dumps(self.encode(frame)).encode()

    def start(self) -> None:
        """Start the server in its own process group and wait until its health route answers 200."""
        with self.log.open("ab") as log:
            # A session of its own: stop() ends the server and every worker it forked, and nothing else.
            self.process = subprocess.Popen(
                self.command,
                env=self.environment,
                cwd=self.log.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise Unavailable(f"not ready after {READY_TIMEOUT:.0f} s: {self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """End the server and every process it started, by pid; a worker that outlives its parent too."""
        if self.process is None:
            return
        tree = process_tree(self.process.pid, process_table())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the server and its workers
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        time.sleep(0.5)
        for pid in tree - {self.process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.process = None

    def log_tail(self) -> str:
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        return last_line(lines)

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        """The labels this server answers for ``frame``, from one request in its own protocol."""
        request = urllib.request.Request(
            self.url(self.predict_path),
            data=self.body(frame),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return self.decode(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            raise Unavailable(
                f"answered {error.code} to a {len(frame)}-row request: {error.read()[:200]!r}"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise Unavailable(f"gave no readable answer to a {len(frame)}-row request: {error!r}") from None


def process_table() -> dict[int, tuple[int, float]]:
    """Every process on the machine: pid -> (parent pid, CPU seconds used so far), from /proc."""
    table: dict[int, tuple[int, float]] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone while we looked
        # after the command name: state, ppid, … utime and stime are the 12th and 13th fields
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return table


def process_tree(root: int, table: dict[int, tuple[int, float]]) -> set[int]:
    """``root`` and everything it started, even in sessions of their own (BentoML's workers are)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    tree, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid in table and pid not in tree:
            tree.add(pid)
            pending.extend(children.get(pid, []))
    return tree


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core, everyone's work)."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class LoadMeter:
    """How much of the machine other people's work took while we measured: everything busy minus what
    our servers, wrk and this script used."""

    servers: list[Server]
    started: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def ours(self) -> float:
        table = process_table()
        roots = [server.process.pid for server in self.servers if server.process is not None]
        used = sum(table[pid][1] for root in roots for pid in process_tree(root, table))
        times = os.times()  # this script, and its finished children: every wrk run
        return used + times.user + times.system + times.children_user + times.children_system

    def start(self) -> None:
        self.started = (time.monotonic(), machine_busy_seconds(), self.ours())

    def others_share(self) -> float:
        """Share of all cores' time since start() that went to work not ours."""
        wall, busy, ours = self.started
        elapsed = (time.monotonic() - wall) * (os.cpu_count() or 1)
        others = (machine_busy_seconds() - busy) - (self.ours() - ours)
        return max(0.0, others) / elapsed if elapsed > 0 else 0.0


def last_line(lines: Sequence[str], limit: int = 240) -> str:
    text = lines[-1].strip() if lines else "(no output)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_quietly(command: Sequence[str], timeout: float, **kwargs: Any) -> str:
    """Run a setup command; its stdout, or Unavailable with the last line it printed."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"`{' '.join(map(str, command[:3]))} …` failed: {error}") from None
    if done.returncode != 0:
        output = (done.stderr + done.stdout).splitlines()
        raise Unavailable(f"`{' '.join(map(str, command[:3]))} …` failed: {last_line(output)}")
    return done.stdout


def ensure_environment(stamp: Path) -> None:
    """Create or update a baseline's virtualenv through the Makefile target that owns it (a no-op when
    it is up to date), so the pins live in one place."""
    if shutil.which("make") is None:
        if stamp.exists():
            return
        raise Unavailable(f"{stamp.parent.name} is missing and make is not installed to create it")
    if not stamp.exists():
        print(f"creating {stamp.parent.relative_to(ROOT)} (make, once) …", file=sys.stderr)
    run_quietly(["make", "--no-print-directory", "-C", str(ROOT), str(stamp.relative_to(ROOT))], 1800)


def server_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHIPYARD_")}
    environment.update(ONE_THREAD)
    environment.update(extra)
    return environment


def with_path(venv: Path) -> str:
    """PATH with the venv's bin first: ``mlflow models serve`` runs ``uvicorn`` by name."""
    return f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


# -- the three servers ---------------------------------------------------------------------------------
def shipyard_server(
    work: Path,
    model: HistGradientBoostingClassifier,
    features: pd.DataFrame,
    *,
    name: str = "shipyard",
    options: Sequence[str] = (),
) -> Server:
    """``shipyard serve`` as a user runs it (prediction log and monitoring on), plus ``options``."""
    workspace = work / f"{name.replace(' ', '-')}-workspace"
    workspace.mkdir()
    registry_url = f"sqlite:///{workspace / 'registry.db'}"
    artifacts_url = str(workspace / "artifacts")
    with Registry(home=workspace, registry_url=registry_url, artifacts_url=artifacts_url) as registry:
        version = registry.register(
            MODEL_NAME,
            model,
            metadata=VersionMetadata(input_schema=Contract.infer(features).to_dict()),
            reason="serving benchmark",
        )
        registry.set_alias(MODEL_NAME, "production", version.version)
    metrics_folder = work / f"{name.replace(' ', '-')}-metrics"
    metrics_folder.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "shipyard", "serve", f"{MODEL_NAME}@production"]
    command += ["--port", str(port), "--workers", str(WORKERS), *options]
    return Server(
        name=name,
        command=command,
        environment=server_environment(
            SHIPYARD_HOME=str(workspace),
            SHIPYARD_REGISTRY_URL=registry_url,
            SHIPYARD_ARTIFACTS_URL=artifacts_url,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_folder),
        ),
        port=port,
        ready_path="/health/ready",
        predict_path=f"/v1/models/{MODEL_NAME}/predict",
        encode=lambda frame: {"records": frame.to_dict(orient="records")},
        decode=lambda payload: list(payload["predictions"]),
        version=__version__,
        log=work / f"{name.replace(' ', '-')}.log",
    )


def mlflow_server(work: Path, model_file: Path) -> Server:
    ensure_environment(MLFLOW_VENV / ".installed-serving")
    python = MLFLOW_VENV / "bin" / "python"
    model_folder = work / "mlflow-model"
    saver = HERE / "baselines" / "mlflow_serving_model.py"
    output = run_quietly(
        [str(python), str(saver), "--model-file", str(model_file), "--output", str(model_folder)], 600
    )
    version = json.loads(output.strip().splitlines()[-1])["mlflow"]
    port = free_port()
    command = [str(python), "-m", "mlflow", "models", "serve", "-m", str(model_folder)]
    command += ["--env-manager", "local", "--workers", str(WORKERS), "-p", str(port), "-h", "127.0.0.1"]
    return Server(
        name="MLflow",
        command=command,
        environment=server_environment(PATH=with_path(MLFLOW_VENV)),
        port=port,
        ready_path="/ping",
        predict_path="/invocations",
        encode=lambda frame: {
            "dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}
        },
        decode=lambda payload: list(payload["predictions"]),
        version=version,
        log=work / "mlflow.log",
    )


def bentoml_server(work: Path, model_file: Path) -> Server:
    ensure_environment(BENTOML_VENV / ".installed")
    python = BENTOML_VENV / "bin" / "python"
    version = run_quietly(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('bentoml'))"], 120
    ).strip()
    bentoml_home = work / "bentoml-home"
    bentoml_home.mkdir()
    port = free_port()
    command = [str(python), "-m", "bentoml", "serve", "bentoml_service:BenchClassifier"]
    command += ["--working-dir", str(HERE / "baselines"), "--host", "127.0.0.1", "--port", str(port)]
    return Server(
        name="BentoML",
        command=command,
        environment=server_environment(
            PATH=with_path(BENTOML_VENV),
            BENTOML_HOME=str(bentoml_home),
            BENTOML_DO_NOT_TRACK="true",
            BENCH_MODEL_FILE=str(model_file),
        ),
        port=port,
        ready_path="/readyz",
        predict_path="/predict",
        encode=lambda frame: {"input": frame.to_numpy().tolist()},
        decode=lambda payload: list(payload),
        version=version,
        log=work / "bentoml.log",
    )


# -- measuring -------------------------------------------------------------------------------------------
def run_wrk(url: str, script: Path, connections: int, seconds: int) -> Run:
    command = ["wrk", "--threads", str(min(2, connections)), "--connections", str(connections)]
    command += ["--duration", f"{seconds}s", "--timeout", "10s", "--script", str(script), url]
    output = run_quietly(command, seconds + 60)
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            summary = json.loads(line.removeprefix("WRK_JSON "))
            errors = sum(summary[key] for key in ("connect", "read", "write", "status", "timeout"))
            return Run(
                requests_per_second=summary["requests"] / (summary["duration_us"] / 1e6),
                p50_ms=summary["p50_us"] / 1000,
                p99_ms=summary["p99_us"] / 1000,
                errors=errors,
            )
    raise Unavailable(f"wrk printed no summary: {last_line(output.splitlines())}")


def verify(server: Server, model: HistGradientBoostingClassifier, frames: dict[int, pd.DataFrame]) -> None:
    """The server must give exactly the model's own labels, so all three serve the same model."""
    for frame in frames.values():
        expected = model.predict(frame).tolist()
        answered = [int(label) for label in server.predict(frame)]
        if answered != expected:
            wrong = sum(a != b for a, b in zip(answered, expected, strict=False)) + abs(
                len(answered) - len(expected)
            )
            raise Unavailable(
                f"answered labels unlike the model's own predict for {wrong} of {len(frame)} rows"
            )


def start_servers(
    chosen: list[str],
    work: Path,
    model: HistGradientBoostingClassifier,
    features: pd.DataFrame,
    frames: dict[int, pd.DataFrame],
    reasons: dict[str, str],
) -> list[Server]:
    """Start and verify each chosen server; one that fails is stopped and its reason recorded."""
    model_file = work / "model.joblib"
    joblib.dump(model, model_file)
    builders: dict[str, Callable[[], Server]] = {
        "shipyard": lambda: shipyard_server(work, model, features),
        "mlflow": lambda: mlflow_server(work, model_file),
        "bentoml": lambda: bentoml_server(work, model_file),
    }
    started: list[Server] = []
    try:
        for key in chosen:
            name = SERVER_NAMES[key]
            print(f"starting {name} …", file=sys.stderr)
            server: Server | None = None
            try:
                server = builders[key]()
                server.start()
                verify(server, model, frames)
                started.append(server)
            # Whatever goes wrong with one server (its install, its start, its answers) must not stop the
            # benchmark of the others: it becomes that server's n/a, with the reason.
            except Exception as error:
                reasons[name] = str(error) if isinstance(error, Unavailable) else repr(error)
                print(f"  {name}: n/a — {reasons[name]}", file=sys.stderr)
                if server is not None:
                    server.stop()
    except BaseException:
        for server in started:
            server.stop()
        raise
    return started


def time_servers(
    servers: list[Server],
    work: Path,
    frames: dict[int, pd.DataFrame],
    args: argparse.Namespace,
    reasons: dict[str, str],
) -> tuple[dict[str, dict[str, Run]], list[float]]:
    """Every scenario ``args.repetitions`` times, servers taking turns: medians per server and scenario."""
    scripts: dict[tuple[str, int], Path] = {}
    for server in servers:
        for rows, frame in frames.items():
            body_file = work / f"{server.name}-{rows}.json"
            body_file.write_bytes(server.body(frame))
            script = work / f"{server.name}-{rows}.lua"
            script.write_text(LUA_SCRIPT.replace("__BODY_FILE__", json.dumps(str(body_file))))
            scripts[(server.name, rows)] = script

    planned = len(servers) * len(SCENARIOS) * args.repetitions * (args.duration + args.warmup)
    print(f"timing {len(servers)} server(s), about {planned / 60:.1f} min …", file=sys.stderr)
    runs: dict[tuple[str, str], list[Run]] = {}
    meter, others = LoadMeter(servers), []
    for repetition in range(1, args.repetitions + 1):
        for scenario in SCENARIOS:
            for server in servers:
                if server.name in reasons:
                    continue
                if not server.alive():
                    reasons[server.name] = f"exited during the benchmark: {server.log_tail()}"
                    continue
                url = server.url(server.predict_path)
                script = scripts[(server.name, scenario.rows)]
                try:
                    run_wrk(url, script, scenario.connections, args.warmup)
                    meter.start()
                    run = run_wrk(url, script, scenario.connections, args.duration)
                    others.append(meter.others_share())
                except Unavailable as error:
                    reasons[server.name] = f"wrk failed in {scenario.label}: {error}"
                    continue
                runs.setdefault((server.name, scenario.label), []).append(run)
                print(
                    f"  [{repetition}/{args.repetitions}] {server.name:8} {scenario.label:15} "
                    f"{run.requests_per_second:8,.0f} req/s  p50 {milliseconds(run.p50_ms):>6} ms  "
                    f"p99 {milliseconds(run.p99_ms):>6} ms  errors {run.errors}  "
                    f"others' CPU {others[-1]:.0%}",
                    file=sys.stderr,
                )
    results: dict[str, dict[str, Run]] = {}
    for (name, label), measured in runs.items():
        if name not in reasons and len(measured) == args.repetitions:
            results.setdefault(name, {})[label] = summarise(measured)
    return results, others


def cpu_busy_share(seconds: float = 2.0) -> float:
    """Share of all cores busy over the next ``seconds`` (before our servers start: other people's work)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / (seconds * (os.cpu_count() or 1))


# -- reporting -------------------------------------------------------------------------------------------
def milliseconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def summarise(runs: list[Run]) -> Run:
    return Run(
        requests_per_second=statistics.median(run.requests_per_second for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        errors=sum(run.errors for run in runs),
    )


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def report(
    names: list[str],
    results: dict[str, dict[str, Run]],
    reasons: dict[str, str],
    args: argparse.Namespace,
    context: dict[str, str],
) -> str:
    rows: list[list[object]] = []
    for name in names:
        for scenario in SCENARIOS:
            summary = results.get(name, {}).get(scenario.label)
            if summary is None:
                rows.append([name, scenario.label, "n/a", "n/a", "n/a", "n/a"])
                continue
            rows.append(
                [
                    name,
                    scenario.label,
                    f"{summary.requests_per_second:,.0f}",
                    milliseconds(summary.p50_ms),
                    milliseconds(summary.p99_ms),
                    summary.errors,
                ]
            )
    table = markdown_table(["server", "scenario", "req/s", "p50 ms", "p99 ms", "errors"], rows)

    ours = results.get("shipyard", {})
    peers = [name for name in names if name != "shipyard"]
    ratio_rows: list[list[object]] = []
    for scenario in SCENARIOS:
        row: list[object] = [scenario.label]
        for peer in peers:
            mine, theirs = ours.get(scenario.label), results.get(peer, {}).get(scenario.label)
            row.append(
                f"{mine.requests_per_second / theirs.requests_per_second:.1f}×"
                if mine and theirs and theirs.requests_per_second > 0
                else "n/a"
            )
        ratio_rows.append(row)
    ratios = markdown_table(["scenario", *[f"shipyard ÷ {peer} (req/s)" for peer in peers]], ratio_rows)

    aim_rows: list[list[object]] = []
    busy = ours.get("1 row, c=64")
    mlflow_busy = results.get("MLflow", {}).get("1 row, c=64")
    if busy and mlflow_busy and mlflow_busy.requests_per_second > 0:
        ratio = busy.requests_per_second / mlflow_busy.requests_per_second
        aim_rows.append(
            [
                "1 row, c=64: ≥ 10× MLflow's req/s",
                f"{ratio:.1f}× ({busy.requests_per_second:,.0f} vs {mlflow_busy.requests_per_second:,.0f})",
                verdict(ratio >= 10),
            ]
        )
    else:
        aim_rows.append(["1 row, c=64: ≥ 10× MLflow's req/s", "n/a (MLflow or shipyard not measured)", "n/a"])
    if busy:
        aim_rows.append(
            ["1 row, c=64: p99 < 50 ms", f"{milliseconds(busy.p99_ms)} ms", verdict(busy.p99_ms < 50)]
        )
    single = ours.get("1 row, c=1")
    if single:
        aim_rows.append(
            ["1 row, c=1: p50 < 2 ms", f"{milliseconds(single.p50_ms)} ms", verdict(single.p50_ms < 2)]
        )
    if ours:
        errors = sum(run.errors for run in ours.values())
        complete = len(ours) == len(SCENARIOS)
        aim_rows.append(["zero errors (shipyard, all runs)", str(errors), verdict(errors == 0 and complete)])
    aims = markdown_table(["aim", "measured", "result"], aim_rows)

    missing = "\n".join(f"- {name}: n/a — {reason}" for name, reason in reasons.items())
    described = {
        "shipyard": f"- shipyard {context.get('shipyard', 'n/a')}: `shipyard serve bench@production "
        '--workers 2`, native route `POST /v1/models/bench/predict` with `{"records": [...]}`; validates '
        "the contract and answers labels, probabilities and prediction ids.",
        "MLflow": f"- MLflow {context.get('MLflow', 'n/a')}: `mlflow models serve --env-manager local "
        "--workers 2`, `POST /invocations` with `dataframe_split`; enforces the signature, answers labels.",
        "BentoML": f"- BentoML {context.get('BentoML', 'n/a')}: `@bentoml.service(workers=2)` with "
        "`@bentoml.api(batchable=True, max_batch_size=512)`, `POST /predict` with "
        '`{"input": [[...]]}`; answers labels.',
    }
    tcp_note = (
        [
            "- MLflow at low concurrency waits about 40 ms per request on TCP, not on the model (GET /ping "
            "too): with `--workers 2`, uvicorn on the plain asyncio loop (MLflow installs neither uvloop nor "
            "httptools) leaves TCP_NODELAY off on accepted sockets, so the response body waits for the "
            "client's delayed ACK. At c=64 MLflow is CPU-bound instead.",
        ]
        if "MLflow" in results
        else []
    )
    notes = "\n".join(
        [
            "Setup:",
            "",
            *[described[name] for name in names],
            "- Every server: one OpenMP/BLAS thread per worker; the same model, labels checked first.",
            *tcp_note,
            f"- wrk {context['wrk']} on the same machine: {args.duration} s per run after a {args.warmup} s "
            f"warm-up, {args.repetitions} repetition(s), medians; errors summed over the repetitions.",
            f"- The model's own `predict` (in-process, one thread, median): {context['predict_one']} ms for "
            f"one row, {context['predict_hundred']} ms for 100 rows.",
            f"- Other work on the machine: {context['load']}.",
        ]
    )
    parts = [
        "`python bench/serving.py` — HistGradientBoostingClassifier (100 iterations) on make_classification "
        f"(50,000 × 20, seed 0), served by {', '.join(names)} with two workers each on this machine and "
        "driven by wrk from the same machine.",
        table,
        "shipyard's throughput relative to each peer:",
        ratios,
        "Aims:",
        aims,
    ]
    if missing:
        parts.append("Not measured:\n\n" + missing)
    parts.append(notes)
    return "\n\n".join(parts) + "\n"


# -- rollouts (shipyard only) ---------------------------------------------------------------------------
ROLLOUT_CONCURRENCIES = (16, 64)
ROLLOUT_LABELS = {"none": "no rollout", "canary": "50% canary", "shadow": "shadow"}


@dataclass
class RolloutResults:
    runs: dict[tuple[str, int], list[Run]] = field(default_factory=dict)
    aborts: list[_rollouts.AbortTrial] = field(default_factory=list)
    shadow_copies: dict[str, float] = field(default_factory=dict)
    others: list[float] = field(default_factory=list)
    #: Per state and concurrency, per timed run: (requests per predict call, server CPU ms per request).
    batching: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)
    #: The routing decision alone (``choose_arm``), in process: microseconds per request, median.
    choose_arm_us: float = 0.0
    #: The model's predict_proba on 1 and on 8 rows, as a worker calls it (shipyard's flavor, one OpenMP
    #: thread): ms, median.
    model_call_ms: tuple[float, float] = (0.0, 0.0)
    reason: str = ""


def workspace_registry(server: Server) -> Registry:
    """The registry of a shipyard server's workspace, opened in this process."""
    environment = server.environment
    return Registry(
        home=Path(environment["SHIPYARD_HOME"]),
        registry_url=environment["SHIPYARD_REGISTRY_URL"],
        artifacts_url=environment["SHIPYARD_ARTIFACTS_URL"],
    )


def time_rollouts(
    work: Path,
    model: HistGradientBoostingClassifier,
    candidate: HistGradientBoostingClassifier,
    features: pd.DataFrame,
    args: argparse.Namespace,
) -> RolloutResults:
    """No rollout, a 50% canary and a shadow rollout taking turns on one server; then the aborts."""
    results = RolloutResults(choose_arm_us=choose_arm_microseconds())
    loaded = SklearnModel(model)  # the model as a worker calls it: through shipyard's scikit-learn flavor
    with threadpool_limits(limits=1):
        one, eight = (
            measure(f"predict_proba {len(rows)} rows", partial(_predict_proba, loaded, rows), 300)
            for rows in (features.iloc[:1], features.iloc[:8])
        )
    results.model_call_ms = (one.median_ms, eight.median_ms)
    server = shipyard_server(work, model, features, name="shipyard rollouts")
    frame = features.iloc[:1]
    with workspace_registry(server) as registry:
        registry.register(
            MODEL_NAME,
            candidate,
            metadata=VersionMetadata(input_schema=Contract.infer(features).to_dict()),
            reason="serving benchmark: the rollouts' candidate, the same estimator refitted",
        )
    print("starting shipyard for the rollouts …", file=sys.stderr)
    try:
        server.start()
        verify(server, model, {1: frame, 100: features.iloc[:100]})
        assert server.process is not None
        with workspace_registry(server) as registry:
            time_rollout_states(server, server.process.pid, registry, frame, work, args, results)
            results.shadow_copies = _rollouts.shadow_copies(fetch_text(server.url("/metrics")))
            print(f"timing {args.aborts} aborts …", file=sys.stderr)
            for index in range(args.aborts):
                trial = _rollouts.abort_trial(
                    registry,
                    MODEL_NAME,
                    2,
                    server.port,
                    server.process.pid,
                    WORKERS,
                    server.predict_path,
                    server.body(frame),
                )
                results.aborts.append(trial)
                print(
                    f"  abort {index + 1}/{args.aborts}: {trial.seconds * 1000:.0f} ms "
                    f"({trial.requests} requests, {trial.failed} failed)",
                    file=sys.stderr,
                )
    # One step going wrong (a worker that never follows, a server that dies) is the report's reason.
    except Exception as error:
        results.reason = f"{type(error).__name__}: {error}"
        print(f"  rollouts: n/a — {results.reason}", file=sys.stderr)
    finally:
        server.stop()
    return results


def _predict_proba(model: SklearnModel, rows: pd.DataFrame, _: int) -> object:
    return model.predict_proba(rows)


def time_rollout_states(
    server: Server,
    server_pid: int,
    registry: Registry,
    frame: pd.DataFrame,
    work: Path,
    args: argparse.Namespace,
    results: RolloutResults,
) -> None:
    """Every state at every concurrency, ``args.repetitions`` times, the states taking turns."""
    body_file = work / "rollouts-1.json"
    body_file.write_bytes(server.body(frame))
    script = work / "rollouts-1.lua"
    script.write_text(LUA_SCRIPT.replace("__BODY_FILE__", json.dumps(str(body_file))))
    url, metrics = server.url(server.predict_path), server.url("/metrics")
    modes = _rollouts.MODES
    planned = len(modes) * len(ROLLOUT_CONCURRENCIES) * args.repetitions * (args.duration + args.warmup)
    print(f"timing rollout states, about {planned / 60:.1f} min …", file=sys.stderr)
    meter = LoadMeter([server])
    for repetition in range(args.repetitions):
        order = modes[repetition % len(modes) :] + modes[: repetition % len(modes)]
        for connections in ROLLOUT_CONCURRENCIES:
            for mode in order:
                rollout_id = _rollouts.set_mode(registry, MODEL_NAME, 2, mode)
                _rollouts.wait_for_routing(server.port, server_pid, WORKERS, MODEL_NAME, rollout_id)
                run_wrk(url, script, connections, args.warmup)
                before = (_rollouts.batch_totals(fetch_text(metrics)), server_cpu_seconds(server_pid))
                meter.start()
                run = run_wrk(url, script, connections, args.duration)
                results.others.append(meter.others_share())
                after = (_rollouts.batch_totals(fetch_text(metrics)), server_cpu_seconds(server_pid))
                results.runs.setdefault((mode, connections), []).append(run)
                calls, counted = (after[0][key] - before[0][key] for key in ("calls", "requests"))
                results.batching.setdefault((mode, connections), []).append(
                    (
                        (after[0]["batched"] - before[0]["batched"]) / max(calls, 1.0),
                        (after[1] - before[1]) * 1000 / max(counted, 1.0),
                    )
                )
                print(
                    f"  [{repetition + 1}/{args.repetitions}] c={connections:<3} {ROLLOUT_LABELS[mode]:11} "
                    f"{run.requests_per_second:8,.0f} req/s  p50 {milliseconds(run.p50_ms):>6} ms  "
                    f"p99 {milliseconds(run.p99_ms):>6} ms  errors {run.errors}  "
                    f"others' CPU {results.others[-1]:.0%}",
                    file=sys.stderr,
                )
    _rollouts.set_mode(registry, MODEL_NAME, 2, "none")
    _rollouts.wait_for_routing(server.port, server_pid, WORKERS, MODEL_NAME, None)


def server_cpu_seconds(server_pid: int) -> float:
    """CPU seconds the server and every process it started have used so far."""
    table = process_table()
    return sum(table[pid][1] for pid in process_tree(server_pid, table))


def choose_arm_microseconds() -> float:
    """The routing decision alone, in this process: one ``choose_arm`` on a 50% split, by random draw and
    by a header's value (hashed), median µs of each, the larger."""
    split = rollouts.Split(rollout_id=1, stable=1, candidate=2, candidate_share=0.5, shadow=False, key=None)
    keyed = replace(split, key=rollouts.RoutingKey.parse("header:X-Customer-Id"))
    by_draw = measure("choose_arm", lambda index: rollouts.choose_arm(split, None, 0.5), 20_000)
    by_key = measure("choose_arm", lambda index: rollouts.choose_arm(keyed, str(index), 0.5), 20_000)
    return max(by_draw.median_ms, by_key.median_ms) * 1000


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def rollout_report(results: RolloutResults, args: argparse.Namespace) -> str:
    """The rollouts section: costs as ratios to no rollout, where the time goes, the abort latencies, the
    aims, and how it ran."""
    if results.reason:
        return f"Not measured: {results.reason}\n"
    throughput, costs = rollout_throughput(results)
    seconds = [trial.seconds * 1000 for trial in results.aborts]
    p99 = _rollouts.percentile(seconds, 0.99)
    aborts = markdown_table(
        ["aborts", "p50 ms", "p99 ms", "max ms", "min ms", "requests during the aborts", "failed"],
        [
            [
                len(seconds),
                f"{_rollouts.median(seconds):.0f}",
                f"{p99:.0f}",
                f"{max(seconds):.0f}",
                f"{min(seconds):.0f}",
                f"{sum(trial.requests for trial in results.aborts):,}",
                sum(trial.failed for trial in results.aborts),
            ]
        ],
    )
    aim_rows: list[list[object]] = []
    for mode, aim in (("canary", 0.05), ("shadow", 0.15)):
        for connections in ROLLOUT_CONCURRENCIES:
            cost = costs[(mode, connections)]
            label = f"{ROLLOUT_LABELS[mode]}, c={connections}: costs < {aim:.0%} of req/s"
            aim_rows.append([label, f"{cost:.1%}", verdict(cost < aim)])
    aim_rows.append(["abort → every worker stable: p99 < 1 s", f"{p99:.0f} ms", verdict(p99 < 1000)])
    errors = sum(run.errors for runs in results.runs.values() for run in runs)
    errors += sum(trial.failed for trial in results.aborts)
    aim_rows.append(["zero errors (every run and abort)", str(errors), verdict(errors == 0)])
    parts = [
        "`python bench/serving.py --parts rollouts` — the serving benchmark's model and 1-row workload on "
        "shipyard alone, with no rollout, a 50% canary and a shadow rollout of a candidate as fast as "
        "stable; then how long an abort takes to reach every worker.",
        throughput,
        "Where the time goes (from the server's /metrics and its processes' CPU time, same runs, medians):",
        rollout_batching(results),
        f"The routing decision itself (`choose_arm`, in process) takes {results.choose_arm_us:.1f} µs a "
        "request. What a split costs is the second model call: a worker's batch holds both versions' "
        "requests, and each version predicts its share in a call of its own, one after the other on the "
        "model's one predict thread. This model's `predict_proba` takes "
        f"{results.model_call_ms[0]:.2f} ms for 1 row and {results.model_call_ms[1]:.2f} ms for 8 "
        "(scikit-learn walks its 100 trees once per call), so where batches are small, as at c=16, the "
        "second call is a large part of a batch's CPU. A shadow rollout runs the model twice for every "
        "request; its copies are computed after the batch's live answers.",
        "Aborts:",
        aborts,
        "Aims:",
        markdown_table(["aim", "measured", "result"], aim_rows),
        rollout_notes(results, args),
    ]
    return "\n\n".join(parts) + "\n"


def rollout_throughput(results: RolloutResults) -> tuple[str, dict[tuple[str, int], float]]:
    """The table of req/s, costs and latencies per state, and each rollout's cost per concurrency."""
    summaries = {key: summarise(runs) for key, runs in results.runs.items()}
    rows: list[list[object]] = []
    costs: dict[tuple[str, int], float] = {}
    for connections in ROLLOUT_CONCURRENCIES:
        none, canary, shadow = (summaries[(mode, connections)] for mode in _rollouts.MODES)
        for mode, summary in (("canary", canary), ("shadow", shadow)):
            costs[(mode, connections)] = 1 - summary.requests_per_second / none.requests_per_second
        rows.append(
            [
                f"1 row, c={connections}",
                f"{none.requests_per_second:,.0f}",
                f"{canary.requests_per_second:,.0f}",
                f"{costs[('canary', connections)]:.1%}",
                f"{shadow.requests_per_second:,.0f}",
                f"{costs[('shadow', connections)]:.1%}",
                " / ".join(milliseconds(s.p50_ms) for s in (none, canary, shadow)),
                " / ".join(milliseconds(s.p99_ms) for s in (none, canary, shadow)),
                none.errors + canary.errors + shadow.errors,
            ]
        )
    columns = ["workload", "req/s, no rollout", "req/s, 50% canary", "canary cost", "req/s, shadow"]
    columns += ["shadow cost", "p50 ms (none / canary / shadow)", "p99 ms (none / canary / shadow)", "errors"]
    return markdown_table(columns, rows), costs


def rollout_batching(results: RolloutResults) -> str:
    rows = []
    for connections in ROLLOUT_CONCURRENCIES:
        figures = [results.batching[(mode, connections)] for mode in _rollouts.MODES]
        rows.append(
            [
                f"1 row, c={connections}",
                " / ".join(f"{statistics.median(f[0] for f in runs):.1f}" for runs in figures),
                " / ".join(f"{statistics.median(f[1] for f in runs):.2f}" for runs in figures),
            ]
        )
    columns = ["workload", "requests per predict call (none / canary / shadow)"]
    return markdown_table([*columns, "server CPU ms per request (none / canary / shadow)"], rows)


def rollout_notes(results: RolloutResults, args: argparse.Namespace) -> str:
    copies = results.shadow_copies
    mirrored, dropped = sum(copies.values()), copies.get("dropped", 0.0)
    others = results.others or [0.0]
    lines = [
        "How it ran:",
        "",
        "- One `shipyard serve bench@production --workers 2` (prediction log, monitoring and the rollout "
        "controller on, as a user runs it); its workspace holds v1 and v2, the same estimator refitted, so "
        "the candidate is no slower than stable. The state changes through `shipyard.rollouts`: "
        "`start(registry, {'model': 'bench', 'to': 2, 'strategy': 'canary', 'steps': [50, 100], "
        "'interval': '1h'})` (half the live traffic to v2; the controller never moves it during a run), the "
        "same with `'strategy': 'shadow'`, and `abort`. Before each timed run the script waits until each "
        "worker's own /health/ready routes by the new state.",
        f"- wrk with 1-row requests, {args.duration} s per run after a {args.warmup} s warm-up, "
        f"{args.repetitions} repetition(s), the three states taking turns within each repetition in a "
        "rotating order; medians, errors summed. The cost is 1 − req/s with the rollout ÷ req/s without.",
        f"- Shadow copies over all shadow runs (warm-ups included): {mirrored:,.0f} mirrored, "
        f"{copies.get('answered', 0.0):,.0f} answered by the candidate, {dropped:,.0f} dropped "
        f"({dropped / mirrored if mirrored else 0:.1%}; at most `max_shadow_requests`, 64, in flight per "
        f"worker), {copies.get('failed', 0.0):,.0f} failed.",
        f"- Aborts: {len(results.aborts)} times, start a 50% canary, wait until each worker has answered "
        "with both arms, then `rollouts.abort` (it returns once the database holds the share of 0). Two "
        "keep-alive connections per worker (psutil names the worker holding each), a thread each, send "
        "1-row requests without pause throughout; the latency is from `abort` returning to the arrival of "
        "the last answer whose `X-Shipyard-Arm` is `canary` (0 when none came after it), watched for at "
        f"least {_rollouts.OBSERVE_SECONDS:.0f} s and {_rollouts.QUIET_SECONDS:.0f} s past the last canary. "
        f"p99 of {len(results.aborts)} is the largest. Workers read the split every 0.25 s "
        "(`rollout_refresh_seconds`), so a quarter second plus a request is the expected bound.",
        f"- Other work on the machine during the timed runs: median {statistics.median(others):.0%}, at "
        f"most {max(others):.0%} of the CPU (measured as in the section above).",
    ]
    return "\n".join(lines)


def write_rollouts(results: RolloutResults, args: argparse.Namespace) -> None:
    body = rollout_report(results, args)
    print(body)
    if not args.no_write:
        write_section("serving-rollouts", "Rollouts in shipyard serve: routing, shadow and abort", body)


# -- main ------------------------------------------------------------------------------------------------
def parse_arguments() -> tuple[argparse.Namespace, set[str], list[str]]:
    """The command line: its options, the parts to run and the servers chosen."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per timed run")
    parser.add_argument("--repetitions", type=int, default=3, help="timed runs per server and scenario")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before each timed run")
    parser.add_argument(
        "--servers",
        default="shipyard,mlflow,bentoml",
        help="comma-separated subset of shipyard,mlflow,bentoml",
    )
    parser.add_argument(
        "--parts",
        default="servers,rollouts",
        help="servers (shipyard vs the baselines), rollouts (shipyard's rollout costs), or both",
    )
    parser.add_argument("--aborts", type=int, default=20, help="aborts timed in the rollouts part")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    parts = {part.strip().lower() for part in args.parts.split(",") if part.strip()}
    if not parts or parts - {"servers", "rollouts"}:
        parser.error(f"--parts takes servers and rollouts; got {args.parts!r}")
    chosen = [name.strip().lower() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SERVER_NAMES]
    if unknown or not chosen:
        parser.error(f"--servers takes shipyard, mlflow and bentoml; got {args.servers!r}")
    return args, parts, chosen


def main() -> None:
    args, parts, chosen = parse_arguments()
    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is not installed: `apt-get install -y wrk` (or `make bench-serving-deps`) and run again"
        )
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_line = (wrk_version.stdout + wrk_version.stderr).split("[")[0].strip().removeprefix("wrk ")

    busy_before = cpu_busy_share()
    load_before = os.getloadavg()[0]
    print(
        f"machine: {machine()}; busy {busy_before:.0%} before start, load {load_before:.2f}", file=sys.stderr
    )

    features_array, target = make_classification(n_samples=50_000, n_features=20, random_state=0)
    features = pd.DataFrame(features_array, columns=FEATURES)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(features, target)
    frames = {1: features.iloc[:1], 100: features.iloc[:100]}
    with threadpool_limits(limits=1):  # one OpenMP thread, as each server worker has
        predict_one = measure("predict 1 row", lambda _: model.predict(frames[1]), 300)
        predict_hundred = measure("predict 100 rows", lambda _: model.predict(frames[100]), 100)

    names = [SERVER_NAMES[name] for name in chosen]
    reasons: dict[str, str] = {}
    servers: list[Server] = []
    results: dict[str, dict[str, Run]] = {}
    others: list[float] = []
    rollout_results: RolloutResults | None = None
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-serving-") as scratch:
        work = Path(scratch)
        if "servers" in parts:
            try:
                servers = start_servers(chosen, work, model, features, frames, reasons)
                results, others = time_servers(servers, work, frames, args, reasons)
            finally:
                for server in servers:
                    server.stop()
        if "rollouts" in parts:
            candidate = clone(model).fit(features, target)  # the same estimator refitted: no slower
            rollout_results = time_rollouts(work, model, candidate, features, args)
    if rollout_results is not None:
        write_rollouts(rollout_results, args)
    if "servers" not in parts:
        return

    load_after = os.getloadavg()[0]
    context = {server.name: server.version for server in servers}
    context |= {
        "wrk": wrk_line,
        "predict_one": f"{predict_one.median_ms:.2f}",
        "predict_hundred": f"{predict_hundred.median_ms:.2f}",
        "load": (
            f"{busy_before:.0%} of the CPU busy in the 2 s before the servers started; during the timed "
            f"runs, other work took a median {statistics.median(others or [0.0]):.0%} and at most "
            f"{max(others or [0.0]):.0%} of it (all busy CPU time minus the servers', wrk's and this "
            f"script's); 1-minute load average {load_before:.2f} before, {load_after:.2f} after"
        ),
    }
    context.setdefault("shipyard", __version__)
    body = report(names, results, reasons, args, context)
    print(body)
    if not args.no_write:
        write_section("serving", "Real-time serving: shipyard vs MLflow vs BentoML", body)


if __name__ == "__main__":
    main()
