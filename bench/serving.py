"""Serving benchmark: real-time predictions from shipyard, MLflow and BentoML serving the same model.

The model is a HistGradientBoostingClassifier (100 iterations) fitted on ``make_classification`` (50,000
rows × 20 features f0…f19, seed 0). shipyard serves it from a temporary workspace (``shipyard serve
bench@production --workers 2``); the baselines, each in its own cached virtualenv (``make bench`` creates
them, and this script asks make for them when they are missing), load the very same fitted object from a
joblib dump: MLflow as ``mlflow models serve --env-manager local --workers 2`` after
``mlflow.sklearn.save_model`` (bench/baselines/mlflow_serving_model.py), BentoML as a 1.2+-style service with
adaptive batching and two workers (bench/baselines/bentoml_service.py). All three run with one BLAS/OpenMP
thread per worker, shipyard's default, so two workers share the two cores without oversubscribing them; MLflow
runs a second time with its default threading (no OpenMP/BLAS limit, an OpenMP thread per core in each
worker), as its own row, so the comparison shows MLflow both ways.
Before anything is timed, each server must answer a single-row and a 100-row request with exactly the labels
the model's own ``predict`` gives.

wrk, on the same machine and against 127.0.0.1 only, POSTs one fixed body per scenario — one row at
concurrency 1, 16 and 64, and 100 rows at concurrency 16 — for ``--duration`` seconds after a ``--warmup``
(3 s) at the same concurrency, ``--repetitions`` times. Each server runs alone on the machine: within a
repetition the servers take turns, each started, timed in every scenario and stopped before the next one
starts (idle, the others' processes still cost the one under load about a tenth of its throughput on two
cores), so a change in the machine's background load hits all of them alike. Reported: medians over the
repetitions of requests/s, p50 and p99 latency, and every error (connect, read, write, timeout, and non-2xx
answers, which wrk counts as any status ≥ 400) summed over the repetitions; and, since the machine is
shared, how much of the CPU other work took during each timed run (all busy time in /proc/stat minus what
the timed server's process tree, wrk and this script used). A baseline that cannot be installed, started
or verified is reported as n/a with the reason; the others still run.

Rollouts (shipyard only, the ``rollouts`` part; docs/benchmarks.md's "Rollouts in shipyard serve" section):
one more ``shipyard serve bench@production --workers 2`` whose workspace also holds version 2, the same
estimator refitted (so the candidate is no slower than stable). Through ``shipyard.rollouts`` the script
switches it between no rollout, a 50% canary and a shadow rollout, waits until every worker routes by the
new state (each worker's own /health/ready), and times 1-row requests at c=16 and c=64 with wrk exactly as
above, the three states taking turns within each repetition (their order rotating). Then 20 aborts: each
starts a 50% canary, waits until every worker has answered with both arms, calls ``rollouts.abort``, and
stamps the last ``canary`` answer (``X-Shipyard-Arm``) seen after ``abort`` returned, while two keep-alive
connections per worker (mapped to their worker with psutil) send requests without pause from a thread each.

Footprint (the ``footprint`` part, shipyard and MLflow, each run as above; "Serving footprint"): ``--starts``
fresh starts of each, taking turns, timed from just before the process starts to the first 200 from its
readiness route (shipyard /health/ready, MLflow /ping), median reported; after the last start, a few
requests, 10 s idle, then RSS, PSS and private memory of every process of the server's tree from
/proc/<pid>/smaps_rollup, each with its role (bench/_memory.py), and the tree's totals.

Soak (the ``soak`` part, shipyard only; "Serving soak"): ``shipyard serve bench@production --workers 2
--monitor-interval 10`` under 1-row requests at c=64 for ``--soak-seconds``, as back-to-back 30 s wrk runs
each reported on its own (req/s, p50, p99, errors, the companion's CPU), while a thread samples every
process's RSS every 10 s; each process is compared with itself after the first minute.

    python bench/serving.py [--duration 20] [--repetitions 3] [--servers shipyard,mlflow,bentoml]
                            [--parts servers,rollouts,footprint,soak] [--aborts 20] [--starts 5]
                            [--soak-seconds 600] [--no-write]
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
import _memory
import _rollouts
from _report import compile_bytecode, machine, markdown_table, measure, verdict, write_section
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
MLFLOW_DEFAULT_THREADS = "MLflow (default threads)"
#: Each --servers choice and the rows it gives: MLflow runs twice, with one OpenMP thread per worker (its
#: best on two cores) and with its default threading (no OpenMP/BLAS limit), so neither choice is hidden.
SERVER_NAMES = {
    "shipyard": ("shipyard",),
    "mlflow": ("MLflow", MLFLOW_DEFAULT_THREADS),
    "bentoml": ("BentoML",),
}

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

    def start(self, poll: float = 0.25) -> float:
        """Start the server in its own process group and wait until its health route answers 200, asking
        every ``poll`` seconds; the seconds from just before the process started to that answer."""
        started = time.monotonic()
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
                        return time.monotonic() - started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(poll)
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


def server_environment(*, one_thread: bool = True, **extra: str) -> dict[str, str]:
    """This environment without shipyard's settings; with one OpenMP/BLAS thread, or with none of those
    limits (not even inherited ones) when ``one_thread`` is false."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHIPYARD_")}
    for key in ONE_THREAD:
        environment.pop(key, None)
    if one_thread:
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


def mlflow_server(work: Path, model_file: Path, *, name: str = "MLflow", one_thread: bool = True) -> Server:
    """``mlflow models serve`` of the same model, with one OpenMP/BLAS thread per worker or its default."""
    ensure_environment(MLFLOW_VENV / ".installed-serving")
    python = MLFLOW_VENV / "bin" / "python"
    slug = name.lower().replace(" ", "-").replace("(", "").replace(")", "")
    model_folder = work / f"{slug}-model"
    saver = HERE / "baselines" / "mlflow_serving_model.py"
    output = run_quietly(
        [str(python), str(saver), "--model-file", str(model_file), "--output", str(model_folder)], 600
    )
    version = json.loads(output.strip().splitlines()[-1])["mlflow"]
    port = free_port()
    command = [str(python), "-m", "mlflow", "models", "serve", "-m", str(model_folder)]
    command += ["--env-manager", "local", "--workers", str(WORKERS), "-p", str(port), "-h", "127.0.0.1"]
    return Server(
        name=name,
        command=command,
        environment=server_environment(one_thread=one_thread, PATH=with_path(MLFLOW_VENV)),
        port=port,
        ready_path="/ping",
        predict_path="/invocations",
        encode=lambda frame: {
            "dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}
        },
        decode=lambda payload: list(payload["predictions"]),
        version=version,
        log=work / f"{slug}.log",
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
    """Start and verify each chosen server, then stop it (each is timed alone); one that fails is recorded
    with its reason."""
    model_file = work / "model.joblib"
    joblib.dump(model, model_file)
    builders: dict[str, Callable[[], Server]] = {
        "shipyard": lambda: shipyard_server(work, model, features),
        "MLflow": lambda: mlflow_server(work, model_file),
        MLFLOW_DEFAULT_THREADS: lambda: mlflow_server(
            work, model_file, name=MLFLOW_DEFAULT_THREADS, one_thread=False
        ),
        "BentoML": lambda: bentoml_server(work, model_file),
    }
    started: list[Server] = []
    try:
        for name in [name for key in chosen for name in SERVER_NAMES[key]]:
            print(f"starting {name} …", file=sys.stderr)
            server: Server | None = None
            try:
                server = builders[name]()
                server.start()
                verify(server, model, frames)
                server.stop()
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
) -> tuple[dict[str, dict[str, Run]], dict[tuple[str, str], list[float]]]:
    """Every scenario ``args.repetitions`` times, each server alone on the machine: within a repetition the
    servers take turns, each started, timed in every scenario and stopped before the next starts. Medians
    per server and scenario, and other work's share of the CPU during each timed run."""
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
    others: dict[tuple[str, str], list[float]] = {}
    for repetition in range(1, args.repetitions + 1):
        for server in servers:
            if server.name in reasons:
                continue
            try:
                server.start()
                for scenario in SCENARIOS:
                    run, share = _time_scenario(server, scenario, scripts[(server.name, scenario.rows)], args)
                    runs.setdefault((server.name, scenario.label), []).append(run)
                    others.setdefault((server.name, scenario.label), []).append(share)
                    print(
                        f"  [{repetition}/{args.repetitions}] {server.name:24} {scenario.label:15} "
                        f"{run.requests_per_second:8,.0f} req/s  p50 {milliseconds(run.p50_ms):>6} ms  "
                        f"p99 {milliseconds(run.p99_ms):>6} ms  errors {run.errors}  "
                        f"others' CPU {share:.0%}",
                        file=sys.stderr,
                    )
            except Unavailable as error:
                reasons[server.name] = str(error)
            finally:
                server.stop()
    results: dict[str, dict[str, Run]] = {}
    for (name, label), measured in runs.items():
        if name not in reasons and len(measured) == args.repetitions:
            results.setdefault(name, {})[label] = summarise(measured)
    return results, others


def _time_scenario(
    server: Server, scenario: Scenario, script: Path, args: argparse.Namespace
) -> tuple[Run, float]:
    """One warmed-up timed run of ``scenario``, and other work's share of the CPU meanwhile (everything but
    this server, wrk and this script: no other server runs)."""
    if not server.alive():
        raise Unavailable(f"exited during the benchmark: {server.log_tail()}")
    url = server.url(server.predict_path)
    meter = LoadMeter([server])
    try:
        run_wrk(url, script, scenario.connections, args.warmup)
        meter.start()
        run = run_wrk(url, script, scenario.connections, args.duration)
    except Unavailable as error:
        raise Unavailable(f"wrk failed in {scenario.label}: {error}") from None
    return run, meter.others_share()


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


def report(
    names: list[str],
    results: dict[str, dict[str, Run]],
    reasons: dict[str, str],
    args: argparse.Namespace,
    context: dict[str, str],
    others: dict[tuple[str, str], list[float]],
) -> str:
    """The server comparison: a row per server and scenario, the ratios, the aims, and how it ran."""
    rows: list[list[object]] = []
    for name in names:
        for scenario in SCENARIOS:
            summary = results.get(name, {}).get(scenario.label)
            shares = " / ".join(f"{share:.0%}" for share in others.get((name, scenario.label), []))
            if summary is None:
                rows.append([name, scenario.label, "n/a", "n/a", "n/a", "n/a", shares or "n/a"])
                continue
            rows.append(
                [
                    name,
                    scenario.label,
                    f"{summary.requests_per_second:,.0f}",
                    milliseconds(summary.p50_ms),
                    milliseconds(summary.p99_ms),
                    summary.errors,
                    shares,
                ]
            )
    columns = ["server", "scenario", "req/s", "p50 ms", "p99 ms", "errors", "other work's CPU, each run"]
    parts = [
        "`python bench/serving.py` — HistGradientBoostingClassifier (100 iterations) on make_classification "
        f"(50,000 × 20, seed 0), served by {', '.join(names)} with two workers each on this machine and "
        "driven by wrk from the same machine.",
        markdown_table(columns, rows),
        "shipyard's throughput relative to each peer:",
        ratio_table(names, results),
        "Aims:",
        aim_table(results),
    ]
    missing = "\n".join(f"- {name}: n/a — {reason}" for name, reason in reasons.items())
    if missing:
        parts.append("Not measured:\n\n" + missing)
    parts.append(setup_notes(names, results, args, context))
    return "\n\n".join(parts) + "\n"


def ratio_table(names: list[str], results: dict[str, dict[str, Run]]) -> str:
    ours = results.get("shipyard", {})
    peers = [name for name in names if name != "shipyard"]
    rows: list[list[object]] = []
    for scenario in SCENARIOS:
        row: list[object] = [scenario.label]
        for peer in peers:
            mine, theirs = ours.get(scenario.label), results.get(peer, {}).get(scenario.label)
            row.append(
                f"{mine.requests_per_second / theirs.requests_per_second:.1f}×"
                if mine and theirs and theirs.requests_per_second > 0
                else "n/a"
            )
        rows.append(row)
    return markdown_table(["scenario", *[f"shipyard ÷ {peer} (req/s)" for peer in peers]], rows)


def aim_table(results: dict[str, dict[str, Run]]) -> str:
    """shipyard's aims; the one against MLflow takes MLflow's better threading at c=64."""
    ours = results.get("shipyard", {})
    rows: list[list[object]] = []
    busy = ours.get("1 row, c=64")
    measured = [
        (name, run)
        for name in SERVER_NAMES["mlflow"]
        if (run := results.get(name, {}).get("1 row, c=64")) is not None and run.requests_per_second > 0
    ]
    label = "1 row, c=64: ≥ 10× MLflow's req/s (its better threading)"
    if busy and measured:
        name, best = max(measured, key=lambda pair: pair[1].requests_per_second)
        ratio = busy.requests_per_second / best.requests_per_second
        rows.append(
            [
                label,
                f"{ratio:.1f}× ({busy.requests_per_second:,.0f} vs {best.requests_per_second:,.0f}, {name})",
                verdict(ratio >= 10),
            ]
        )
    else:
        rows.append([label, "n/a (MLflow or shipyard not measured)", "n/a"])
    if busy:
        rows.append(
            ["1 row, c=64: p99 < 50 ms", f"{milliseconds(busy.p99_ms)} ms", verdict(busy.p99_ms < 50)]
        )
    single = ours.get("1 row, c=1")
    if single:
        rows.append(
            ["1 row, c=1: p50 < 2 ms", f"{milliseconds(single.p50_ms)} ms", verdict(single.p50_ms < 2)]
        )
    if ours:
        errors = sum(run.errors for run in ours.values())
        complete = len(ours) == len(SCENARIOS)
        rows.append(["zero errors (shipyard, all runs)", str(errors), verdict(errors == 0 and complete)])
    return markdown_table(["aim", "measured", "result"], rows)


def setup_notes(
    names: list[str], results: dict[str, dict[str, Run]], args: argparse.Namespace, context: dict[str, str]
) -> str:
    mlflow_serve = "`mlflow models serve --env-manager local --workers 2`, `POST /invocations` with "
    described = {
        "shipyard": f"- shipyard {context.get('shipyard', 'n/a')}: `shipyard serve bench@production "
        '--workers 2`, native route `POST /v1/models/bench/predict` with `{"records": [...]}`; validates '
        "the contract and answers labels, probabilities and prediction ids.",
        "MLflow": f"- MLflow {context.get('MLflow', 'n/a')}: {mlflow_serve}`dataframe_split`; enforces the "
        "signature, answers labels. One OpenMP/BLAS thread per worker (`OMP_NUM_THREADS=1`), so two "
        "workers share two cores without oversubscribing them.",
        MLFLOW_DEFAULT_THREADS: f"- {MLFLOW_DEFAULT_THREADS} {context.get(MLFLOW_DEFAULT_THREADS, 'n/a')}: "
        "the same command with MLflow's default threading: no `OMP_NUM_THREADS`/BLAS limit, so each "
        "worker's scikit-learn uses an OpenMP thread per core.",
        "BentoML": f"- BentoML {context.get('BentoML', 'n/a')}: `@bentoml.service(workers=2)` with "
        "`@bentoml.api(batchable=True, max_batch_size=512)`, `POST /predict` with "
        '`{"input": [[...]]}`; answers labels.',
    }
    mlflow_measured = any(name in results for name in SERVER_NAMES["mlflow"])
    tcp_note = (
        [
            "- MLflow's uvicorn runs on uvloop with httptools, installed in its environment (`make "
            "bench-serving-deps`): a plain `pip install mlflow` has neither, and then uvicorn's asyncio "
            "loop leaves TCP_NODELAY off, so each answer waits about 40 ms for the client's delayed ACK.",
        ]
        if mlflow_measured
        else []
    )
    threads = (
        f"- Every server but {MLFLOW_DEFAULT_THREADS}: one OpenMP/BLAS thread per worker"
        if MLFLOW_DEFAULT_THREADS in names
        else "- Every server: one OpenMP/BLAS thread per worker"
    )
    return "\n".join(
        [
            "Setup:",
            "",
            *[described[name] for name in names],
            f"{threads}; the same model, labels checked first.",
            *tcp_note,
            f"- wrk {context['wrk']} on the same machine: {args.duration} s per run after a {args.warmup} s "
            f"warm-up, {args.repetitions} repetition(s), medians; errors summed over the repetitions. Each "
            "server runs alone: within each repetition the servers take turns, each started, timed in every "
            "scenario and stopped before the next starts. Measured with the other servers idle beside it, "
            "shipyard lost about a tenth of its req/s at c=64 (their processes wake on timers).",
            f"- The model's own `predict` (in-process, one thread, median): {context['predict_one']} ms for "
            f"one row, {context['predict_hundred']} ms for 100 rows.",
            f"- Other work on the machine: {context['load']}. The table gives its share of the CPU during "
            "each timed run, in the order the runs were made.",
        ]
    )


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


# -- footprint: start-up time and memory per process ----------------------------------------------------
FOOTPRINT_SERVERS = ("shipyard", "mlflow")
FOOTPRINT_REQUESTS = 20
FOOTPRINT_IDLE_SECONDS = 10.0
READY_POLL_SECONDS = 0.02
READY_AIM_SECONDS = 2.0
TREE_PSS_AIM_MIB = 600.0
WORKER_PSS_AIM_MIB = 220.0


@dataclass
class FootprintResults:
    #: Server name -> seconds from starting its process to its readiness route answering 200, per start.
    ready: dict[str, list[float]] = field(default_factory=dict)
    #: Server name -> other work's share of the CPU during each start.
    others: dict[str, list[float]] = field(default_factory=dict)
    #: Server name -> every process of its tree after the last start, idle.
    memory: dict[str, list[_memory.ProcessMemory]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    #: Floor name -> seconds of a fresh process that only loads the model and predicts one row, per start.
    floors: dict[str, list[float]] = field(default_factory=dict)


#: What any worker must do before its first answer, each in a fresh process: the model alone as MLflow loads
#: it (unpickled), and as a shipyard worker loads it (the registry's skops file, checked).
FLOOR_PICKLE = "the model alone: unpickle it, predict one row"
FLOOR_SHIPYARD = "the model as a shipyard worker loads it (skops, checked), predict one row"
FLOOR_CODE = {
    FLOOR_PICKLE: "import sys, joblib, numpy\njoblib.load(sys.argv[1]).predict(numpy.zeros((1, 20)))\n",
    FLOOR_SHIPYARD: (
        "import numpy\n"
        "from shipyard._collector import collect_rarely\n"
        "from shipyard.flavors._process import own_process\n"
        "from shipyard.registry import Registry\n"
        "collect_rarely(), own_process()\n"
        f"Registry().load_model('{MODEL_NAME}@production').predict(numpy.zeros((1, 20)))\n"
    ),
}


#: The floor under a whole start: the least server of this model, with the same two workers, timed to ready.
FLOOR_SERVER = "the least server: Starlette on uvicorn, 2 workers, the model unpickled (start to ready)"


def minimal_server(work: Path, model_file: Path) -> Server:
    """``bench/baselines/minimal_server.py`` on uvicorn with two workers, in shipyard's environment."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "minimal_server:app", "--app-dir", str(HERE / "baselines")]
    command += ["--workers", str(WORKERS), "--port", str(port), "--log-level", "warning"]
    return Server(
        name="least server",
        command=command,
        environment=server_environment(BENCH_MODEL_FILE=str(model_file)),
        port=port,
        ready_path="/ready",
        predict_path="/predict",
        encode=lambda frame: {"records": frame.to_dict(orient="records")},
        decode=lambda payload: list(payload["predictions"]),
        version="",
        log=work / "least-server.log",
    )


def time_floor_server(server: Server) -> float:
    """Seconds from starting the least server to its readiness route's 200; stopped again at once."""
    try:
        return server.start(poll=READY_POLL_SECONDS)
    finally:
        server.stop()


def time_floor(name: str, model_file: Path, environment: dict[str, str]) -> float:
    """Seconds of a fresh Python process doing only ``FLOOR_CODE[name]``."""
    started = time.perf_counter()
    run_quietly([sys.executable, "-c", FLOOR_CODE[name], str(model_file)], timeout=300, env=environment)
    return time.perf_counter() - started


def describe_failure(error: Exception) -> str:
    return str(error) if isinstance(error, Unavailable) else repr(error)


def time_footprint(
    folder: Path, workload: Workload, chosen: list[str], args: argparse.Namespace
) -> FootprintResults:
    """``args.starts`` fresh starts of shipyard and MLflow, taking turns, each timed to readiness; after
    the last, a few requests, then idle, the memory of every process of each server's tree."""
    folder.mkdir()
    model_file = folder / "model.joblib"
    joblib.dump(workload.model, model_file)
    builders: dict[str, Callable[[], Server]] = {
        "shipyard": lambda: shipyard_server(folder, workload.model, workload.features),
        "mlflow": lambda: mlflow_server(folder, model_file),
    }
    results = FootprintResults()
    servers: list[Server] = []
    for key in [key for key in chosen if key in FOOTPRINT_SERVERS]:
        try:
            servers.append(builders[key]())
        except Exception as error:  # a baseline that cannot be installed is its n/a; the others still run
            results.reasons[SERVER_NAMES[key][0]] = describe_failure(error)
    print(f"footprint: {args.starts} start(s) of {len(servers)} server(s) …", file=sys.stderr)
    floor_environment = next((server.environment for server in servers if server.name == "shipyard"), None)
    for start in range(1, args.starts + 1):
        if floor_environment is not None:
            for floor in FLOOR_CODE:
                results.floors.setdefault(floor, []).append(time_floor(floor, model_file, floor_environment))
            least = time_floor_server(minimal_server(folder, model_file))
            results.floors.setdefault(FLOOR_SERVER, []).append(least)
        for server in servers:
            if server.name in results.reasons:
                continue
            try:
                footprint_start(server, workload, results, last=start == args.starts)
            # A server that fails to start or answer becomes its n/a, with the reason.
            except Exception as error:
                results.reasons[server.name] = describe_failure(error)
                print(f"  {server.name}: n/a — {results.reasons[server.name]}", file=sys.stderr)
            finally:
                server.stop()
    results.versions = {server.name: server.version for server in servers}
    return results


def footprint_start(server: Server, workload: Workload, results: FootprintResults, *, last: bool) -> None:
    """One fresh start, timed to readiness; after the last, the memory of the idle tree."""
    meter = LoadMeter([server])
    meter.start()  # before the start: the server's processes count as ours as soon as they exist
    seconds = server.start(poll=READY_POLL_SECONDS)
    results.ready.setdefault(server.name, []).append(seconds)
    results.others.setdefault(server.name, []).append(meter.others_share())
    print(f"  {server.name}: ready in {seconds:.2f} s", file=sys.stderr)
    if not last:
        return
    verify(server, workload.model, workload.frames)
    for _ in range(FOOTPRINT_REQUESTS):
        server.predict(workload.frames[1])
    time.sleep(FOOTPRINT_IDLE_SECONDS)
    assert server.process is not None
    root = server.process.pid
    processes = [
        memory
        for pid in process_tree(root, process_table())
        if (memory := _memory.read_memory(pid, _memory.role_of(pid, root, server.port))) is not None
    ]
    results.memory[server.name] = sorted(
        processes, key=lambda process: (_memory.role_rank(process.role), process.pid)
    )


def footprint_report(results: FootprintResults, workload: Workload, args: argparse.Namespace) -> str:
    """The footprint section: readiness times, memory per process and per tree, the aims, how it ran."""
    if not results.ready:
        return "Not measured: " + "; ".join(f"{name}: {why}" for name, why in results.reasons.items()) + "\n"
    ready_rows = [
        [
            name,
            f"{statistics.median(seconds):.2f}",
            " / ".join(f"{value:.2f}" for value in seconds),
            " / ".join(f"{share:.0%}" for share in results.others.get(name, [])),
        ]
        for name, seconds in results.ready.items()
    ]
    columns = ["server", "process", "RSS MiB", "PSS MiB", "private MiB"]
    memory_rows: list[list[object]] = []
    for name, processes in results.memory.items():
        labels = _memory.numbered_roles({process.pid: process.role for process in processes})
        for process in [*processes, _memory.tree_total(processes)]:
            sizes = (process.rss_mib, process.pss_mib, process.private_mib)
            memory_rows.append([name, labels.get(process.pid, process.role), *(f"{v:,.0f}" for v in sizes)])
    parts = [
        "`python bench/serving.py --parts footprint` — the serving benchmark's model served by "
        f"{' and '.join(results.ready)}, two workers each: how long a fresh start takes to be ready, and "
        "what every process of the server costs in memory once it has answered a few requests.",
        f"Start to ready (seconds; median of {args.starts} fresh starts, the servers taking turns):",
        markdown_table(["server", "median s", "each start, s", "other work's CPU, each start"], ready_rows),
        *floor_parts(results),
        f"Memory per process, {FOOTPRINT_IDLE_SECONDS:.0f} s idle after {FOOTPRINT_REQUESTS + 2} requests "
        "(last start):",
        markdown_table(columns, memory_rows),
        "Aims (shipyard):",
        footprint_aims(results),
    ]
    if results.reasons:
        parts.append(
            "Not measured:\n\n" + "\n".join(f"- {name}: n/a — {why}" for name, why in results.reasons.items())
        )
    parts.append(footprint_notes(results, workload))
    return "\n\n".join(parts) + "\n"


def floor_parts(results: FootprintResults) -> list[str]:
    """The floors under a start: what a worker must do before its first answer, in a fresh process."""
    if not results.floors:
        return []
    rows = [
        [name, f"{statistics.median(seconds):.2f}", " / ".join(f"{value:.2f}" for value in seconds)]
        for name, seconds in results.floors.items()
    ]
    return [
        "Under a start, the floors, taking turns with the servers' starts: what a worker must do before its "
        "first answer, each timed as a fresh Python process doing nothing else, and the least server of "
        "this model timed to ready as the servers are.",
        markdown_table(["floor", "median s", "each run, s"], rows),
    ]


def footprint_aims(results: FootprintResults) -> str:
    rows: list[list[object]] = []
    processes = results.memory.get("shipyard")
    if processes:
        tree = _memory.tree_total(processes).pss_mib
        rows.append(
            [f"tree PSS < {TREE_PSS_AIM_MIB:.0f} MiB", f"{tree:,.0f} MiB", verdict(tree < TREE_PSS_AIM_MIB)]
        )
        workers = [process.pss_mib for process in processes if process.role == "worker"]
        largest = max(workers, default=float("nan"))
        rows.append(
            [
                f"each worker < {WORKER_PSS_AIM_MIB:.0f} MiB (PSS, the largest of {len(workers)})",
                f"{largest:,.0f} MiB",
                verdict(bool(workers) and largest < WORKER_PSS_AIM_MIB),
            ]
        )
    else:
        rows.append(["memory aims", "n/a (shipyard's memory not measured)", "n/a"])
    seconds = results.ready.get("shipyard")
    if seconds and "shipyard" not in results.reasons:
        ready = statistics.median(seconds)
        rows.append(
            [
                f"ready < {READY_AIM_SECONDS:.0f} s (median)",
                f"{ready:.2f} s",
                verdict(ready < READY_AIM_SECONDS),
            ]
        )
        floor = results.floors.get(FLOOR_SHIPYARD)
        if floor:  # the machine's speed moves the 2 s aim; this one moves with it
            worker = statistics.median(floor)
            rows.append(
                [
                    "ready no later than its worker floor (a fresh process loading the model as a worker "
                    f"does and predicting one row, {worker:.2f} s here)",
                    f"{ready:.2f} s ({ready / worker:.2f}× the floor)",
                    verdict(ready <= worker),
                ]
            )
    else:
        rows.append([f"ready < {READY_AIM_SECONDS:.0f} s (median)", "n/a", "n/a"])
    return markdown_table(["aim", "measured", "result"], rows)


def footprint_notes(results: FootprintResults, workload: Workload) -> str:
    shipyard, mlflow = results.versions.get("shipyard", __version__), results.versions.get("MLflow", "n/a")
    return "\n".join(
        [
            "How it ran, and how to read it:",
            "",
            f"- shipyard {shipyard}: `shipyard serve bench@production --workers 2` with the prediction log "
            "and monitoring on, as a user runs it (and as the real-time serving section runs it). Its tree: "
            "the supervisor (uvicorn's, holding each worker's listening socket), the fork server the command "
            "starts before it imports its command line (which imports once what every worker needs), two "
            "workers forked from it "
            "(each listening on a socket of its own on the shared port), the companion (one spawned "
            "process running the monitoring and rollout runners as threads; it imports them only once "
            "/health/ready answers) and multiprocessing's resource tracker.",
            f"- MLflow {mlflow}: `mlflow models serve --env-manager local --workers 2` with one OpenMP/BLAS "
            "thread per worker, as in the real-time serving section. Its tree: the launcher (the `mlflow "
            "models serve` command, which runs uvicorn as a child and waits for it), uvicorn's supervisor, "
            "two workers and the resource tracker.",
            "- Start to ready: from just before the process is started to the first 200 from its readiness "
            "route (shipyard `/health/ready`, 200 once the worker that answers has loaded and warmed the "
            f"model; MLflow `/ping`), asked every {READY_POLL_SECONDS * 1000:.0f} ms. Each start is a new "
            "process tree on the same workspace or model folder; the first start also reads the files from "
            "disk, later ones from the page cache. Other work's share of the CPU during each start is "
            "measured as in the real-time serving section.",
            "- The floors: a fresh `python -c` that loads the model and predicts one row, nothing else, with "
            "one OpenMP thread, taking turns with the servers' starts. Unpickling is what MLflow's worker "
            "does; shipyard's worker opens the registry (SQLAlchemy), imports skops besides scikit-learn, "
            "checks every type the file names and rebuilds the estimator without pickle, collecting garbage "
            "rarely as its workers do. A server's start adds its own checks (shipyard's supervisor resolves "
            "the references and checks the alert rules before it starts any worker) and its web stack. "
            "The least server (`bench/baselines/minimal_server.py`) is that web stack and nothing more: "
            "Starlette on uvicorn, two workers, each unpickling the model at import, no registry, checks, "
            "prediction log or monitoring; no server of this model on this stack starts faster.",
            "- Memory from /proc/<pid>/smaps_rollup. RSS counts every page a process has resident, shared "
            "ones included: the Python interpreter, numpy's, scikit-learn's and pyarrow's libraries, mapped "
            "once by the kernel, appear in full in every process that maps them, so a sum of RSS counts "
            "them once per process and overstates what the tree costs. PSS divides each shared page among "
            "the processes sharing it, so the PSS of a tree adds up to the memory it really takes; private "
            "(clean + dirty) is what a process alone holds, and what ending it would give back.",
            f"- The machine: {workload.busy_before:.0%} of the CPU busy in the 2 s before the benchmark "
            f"started; 1-minute load average {workload.load_before:.2f}.",
        ]
    )


def write_footprint(results: FootprintResults, workload: Workload, args: argparse.Namespace) -> None:
    body = footprint_report(results, workload, args)
    print(body)
    if not args.no_write:
        write_section("serving-footprint", "Serving footprint: start-up time and memory per process", body)


# -- soak: shipyard under sustained load ----------------------------------------------------------------
SOAK_CONNECTIONS = 64
SOAK_SLICE_SECONDS = 30
SOAK_SAMPLE_SECONDS = 10.0
SOAK_MONITOR_INTERVAL = 10
SOAK_BASELINE_SECONDS = 60.0
SOAK_GROWTH_AIM = 0.10


@dataclass(frozen=True)
class SoakSlice:
    """One wrk run of the soak: when it began (seconds into the soak), its length and summary, other
    work's share of the CPU, and the CPU seconds the companion (the monitoring runner) used meanwhile."""

    started: float
    seconds: int
    run: Run
    others: float
    companion_cpu: float


@dataclass
class SoakResults:
    slices: list[SoakSlice] = field(default_factory=list)
    #: pid -> (seconds into the soak, RSS MiB), every SOAK_SAMPLE_SECONDS.
    samples: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    failed_passes: int = 0
    reason: str = ""


def wrk_script(folder: Path, server: Server, frame: pd.DataFrame, label: str) -> Path:
    """A wrk script that POSTs ``frame`` in ``server``'s protocol."""
    body_file = folder / f"{label}-{len(frame)}.json"
    body_file.write_bytes(server.body(frame))
    script = folder / f"{label}-{len(frame)}.lua"
    script.write_text(LUA_SCRIPT.replace("__BODY_FILE__", json.dumps(str(body_file))))
    return script


def soak(folder: Path, workload: Workload, args: argparse.Namespace) -> SoakResults:
    """shipyard at c=64 with 1-row requests for ``args.soak_seconds``, in back-to-back wrk runs, while a
    thread samples every process's RSS; the monitoring runner works every SOAK_MONITOR_INTERVAL s."""
    folder.mkdir()
    options = ("--monitor-interval", str(SOAK_MONITOR_INTERVAL))
    server = shipyard_server(folder, workload.model, workload.features, name="shipyard soak", options=options)
    results = SoakResults()
    sampler: _memory.RssSampler | None = None
    print(f"soak: shipyard at c={SOAK_CONNECTIONS} for {args.soak_seconds} s …", file=sys.stderr)
    try:
        server.start()
        verify(server, workload.model, workload.frames)
        assert server.process is not None
        root = server.process.pid
        script = wrk_script(folder, server, workload.frames[1], "soak")
        run_wrk(server.url(server.predict_path), script, SOAK_CONNECTIONS, args.warmup)
        sampler = _memory.RssSampler(
            tree=lambda: process_tree(root, process_table()),
            role=partial(_memory.role_of, root=root, port=server.port),
            interval=SOAK_SAMPLE_SECONDS,
        )
        sampler.start()
        soak_slices(server, script, sampler, args, results)
    # The server dying or wrk failing mid-soak is the report's reason; what was measured until then stays.
    except Exception as error:
        results.reason = describe_failure(error)
        print(f"  soak: {results.reason}", file=sys.stderr)
    finally:
        if sampler is not None:
            sampler.stop()
            results.samples, results.roles = sampler.samples, sampler.roles()
        server.stop()
    failures = [line for line in server.log.read_text(errors="replace").splitlines() if "pass failed" in line]
    results.failed_passes = sum("monitoring pass failed" in line for line in failures)
    for line in dict.fromkeys(failures):  # each distinct failure once, for whoever reads the run
        print(f"  server log: {line}", file=sys.stderr)
    return results


def soak_slices(
    server: Server, script: Path, sampler: _memory.RssSampler, args: argparse.Namespace, results: SoakResults
) -> None:
    """Back-to-back wrk runs of SOAK_SLICE_SECONDS (the last one shorter) until the soak is over."""
    url, meter, started = server.url(server.predict_path), LoadMeter([server]), time.monotonic()
    count = -(-args.soak_seconds // SOAK_SLICE_SECONDS)
    for index in range(count):
        seconds = min(SOAK_SLICE_SECONDS, args.soak_seconds - index * SOAK_SLICE_SECONDS)
        offset = time.monotonic() - started
        companion = role_cpu_seconds(sampler.roles(), "companion")
        meter.start()
        run = run_wrk(url, script, SOAK_CONNECTIONS, seconds)
        others = meter.others_share()
        used = role_cpu_seconds(sampler.roles(), "companion") - companion
        results.slices.append(SoakSlice(offset, seconds, run, others, used))
        print(
            f"  [{index + 1}/{count}] {offset:5.0f} s  {run.requests_per_second:8,.0f} req/s  "
            f"p99 {milliseconds(run.p99_ms):>6} ms  errors {run.errors}  companion CPU {used:.1f} s  "
            f"others' CPU {others:.0%}",
            file=sys.stderr,
        )
        if not server.alive():
            raise Unavailable(f"shipyard exited during the soak: {server.log_tail()}")


def role_cpu_seconds(roles: dict[int, str], role: str) -> float:
    """CPU seconds used so far by the processes of ``roles`` that have ``role``."""
    table = process_table()
    return sum(table[pid][1] for pid, named in roles.items() if named == role and pid in table)


def soak_memory_rows(results: SoakResults, baseline_at: float) -> tuple[list[list[object]], float]:
    """A row per process (RSS after the first minute, at the end, the most, and the change), and the
    largest rise of any process above its value after the first minute, as a share of that value: growth
    is what the aim is about, and a process giving memory back (the companion between passes) is not, nor
    one that lives seconds by design (the companion's child merging a finished hour), listed all the same."""
    labels = _memory.numbered_roles(results.roles)
    rows: list[list[object]] = []
    worst = 0.0
    ordered = sorted(results.samples, key=lambda pid: (_memory.role_rank(results.roles[pid]), pid))
    for pid in ordered:
        series = results.samples[pid]
        after = [rss for seconds, rss in series if seconds >= baseline_at - 1]
        if not after:  # not sampled that late: it ended (or began) within the first minute
            rows.append([labels[pid], "n/a", f"{series[-1][1]:,.0f}", f"{max(r for _, r in series):,.0f}"])
            rows[-1] += ["n/a", "n/a"]
            continue
        base, end = after[0], after[-1]
        largest = max(rss / base - 1 for rss in after)
        short_lived = results.roles[pid] in _memory.SHORT_LIVED
        worst = worst if short_lived else max(worst, largest)
        peak = max(rss for _, rss in series)
        rows.append(
            [
                f"{labels[pid]} (ends by design)" if short_lived else labels[pid],
                f"{base:,.0f}",
                f"{end:,.0f}",
                f"{peak:,.0f}",
                f"{end / base - 1:+.1%}",
                f"{largest:+.1%}",
            ]
        )
    return rows, worst


def soak_report(results: SoakResults, workload: Workload, args: argparse.Namespace) -> str:
    """The soak section: memory per process over time, each slice's throughput, the aims, how it ran."""
    if not results.slices:
        return f"Not measured: {results.reason or 'no run finished'}\n"
    baseline_at = min(SOAK_BASELINE_SECONDS, args.soak_seconds / 2)
    memory_rows, worst = soak_memory_rows(results, baseline_at)
    memory_columns = ["process", f"RSS MiB at {baseline_at:.0f} s", "at the end", "most"]
    memory_columns += ["change at the end", f"largest rise after {baseline_at:.0f} s"]
    slice_rows = [
        [
            f"{part.started:.0f}–{part.started + part.seconds:.0f} s",
            f"{part.run.requests_per_second:,.0f}",
            milliseconds(part.run.p50_ms),
            milliseconds(part.run.p99_ms),
            part.run.errors,
            f"{part.companion_cpu:.1f}",
            f"{part.others:.0%}",
        ]
        for part in results.slices
    ]
    slice_columns = ["slice", "req/s", "p50 ms", "p99 ms", "errors", "companion CPU s", "other work's CPU"]
    errors = sum(part.run.errors for part in results.slices)
    complete = not results.reason and sum(part.seconds for part in results.slices) == args.soak_seconds
    aims = markdown_table(
        ["aim", "measured", "result"],
        [
            [
                f"no process's RSS more than {SOAK_GROWTH_AIM:.0%} above its value at {baseline_at:.0f} s",
                f"largest rise {worst:+.1%}",
                verdict(worst <= SOAK_GROWTH_AIM and complete),
            ],
            ["zero errors", str(errors), verdict(errors == 0 and complete)],
        ],
    )
    parts = [
        f"`python bench/serving.py --parts soak` — shipyard under {args.soak_seconds} s of 1-row requests "
        f"at c={SOAK_CONNECTIONS}: does any process grow, and does throughput hold?",
        f"RSS per process, sampled every {SOAK_SAMPLE_SECONDS:.0f} s:",
        markdown_table(memory_columns, memory_rows),
        f"Each {SOAK_SLICE_SECONDS} s wrk run, back to back:",
        markdown_table(slice_columns, slice_rows),
        "Aims:",
        aims,
    ]
    if results.reason:
        parts.append(f"Stopped early: {results.reason}")
    parts.append(soak_notes(results, workload, args))
    return "\n\n".join(parts) + "\n"


def soak_notes(results: SoakResults, workload: Workload, args: argparse.Namespace) -> str:
    first, last = results.slices[0].run, results.slices[-1].run
    return "\n".join(
        [
            "How it ran:",
            "",
            f"- shipyard {__version__}: `shipyard serve bench@production --workers 2 --monitor-interval "
            f"{SOAK_MONITOR_INTERVAL}` with the prediction log on, so the monitoring runner (a thread of the "
            "companion process) computes the current window of the growing log every "
            f"{SOAK_MONITOR_INTERVAL} s throughout; its CPU seconds per slice show it working. Monitoring "
            f"passes that failed (server log): {results.failed_passes}.",
            f"- wrk, {args.warmup} s of warm-up, then {len(results.slices)} runs of at most "
            f"{SOAK_SLICE_SECONDS} s back to back at c={SOAK_CONNECTIONS}, each reported on its own so a "
            "trend shows; last slice ÷ first: "
            f"{last.requests_per_second / first.requests_per_second:.2f}× the req/s, "
            f"{last.p99_ms / first.p99_ms:.2f}× the p99.",
            f"- RSS (VmRSS) of every process of the server's tree, read by a thread every "
            f"{SOAK_SAMPLE_SECONDS:.0f} s and once after the load ends; each process is compared with its "
            f"own value at {min(SOAK_BASELINE_SECONDS, args.soak_seconds / 2):.0f} s, once the workers' "
            "caches and the log writer's buffers have filled.",
            f"- The machine: {workload.busy_before:.0%} of the CPU busy in the 2 s before the benchmark "
            f"started; other work's share during each slice as in the real-time serving section.",
        ]
    )


def write_soak(results: SoakResults, workload: Workload, args: argparse.Namespace) -> None:
    body = soak_report(results, workload, args)
    print(body)
    if not args.no_write:
        write_section(
            "serving-soak", "Serving soak: shipyard's memory and throughput under sustained load", body
        )


# -- main ------------------------------------------------------------------------------------------------
PARTS = ("servers", "rollouts", "footprint", "soak")


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
        help="comma-separated subset of servers (shipyard vs the baselines), rollouts (shipyard's rollout "
        "costs), footprint (start-up time and memory per process, shipyard and MLflow) and soak "
        "(shipyard under sustained load)",
    )
    parser.add_argument("--aborts", type=int, default=20, help="aborts timed in the rollouts part")
    parser.add_argument("--starts", type=int, default=5, help="fresh starts per server in the footprint part")
    parser.add_argument("--soak-seconds", type=int, default=600, help="seconds of load in the soak part")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    parts = {part.strip().lower() for part in args.parts.split(",") if part.strip()}
    if not parts or parts - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}; got {args.parts!r}")
    if args.starts < 1 or args.soak_seconds < 2 * SOAK_SAMPLE_SECONDS:
        parser.error(f"--starts must be ≥ 1 and --soak-seconds ≥ {2 * SOAK_SAMPLE_SECONDS}")
    chosen = [name.strip().lower() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SERVER_NAMES]
    if unknown or not chosen:
        parser.error(f"--servers takes shipyard, mlflow and bentoml; got {args.servers!r}")
    return args, parts, chosen


@dataclass(frozen=True)
class Workload:
    """The model every part serves, the rows it sends, and the machine before anything started."""

    model: HistGradientBoostingClassifier
    features: pd.DataFrame
    target: Any
    frames: dict[int, pd.DataFrame]
    busy_before: float
    load_before: float


def main() -> None:
    args, parts, chosen = parse_arguments()
    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is not installed: `apt-get install -y wrk` (or `make bench-serving-deps`) and run again"
        )
    compile_bytecode()
    busy_before = cpu_busy_share()
    load_before = os.getloadavg()[0]
    print(
        f"machine: {machine()}; busy {busy_before:.0%} before start, load {load_before:.2f}", file=sys.stderr
    )
    features_array, target = make_classification(n_samples=50_000, n_features=20, random_state=0)
    features = pd.DataFrame(features_array, columns=FEATURES)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(features, target)
    frames = {1: features.iloc[:1], 100: features.iloc[:100]}
    workload = Workload(model, features, target, frames, busy_before, load_before)
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-serving-") as scratch:
        work = Path(scratch)
        if "servers" in parts:
            compare_servers(work, workload, chosen, args)
        if "rollouts" in parts:
            candidate = clone(model).fit(features, target)  # the same estimator refitted: no slower
            write_rollouts(time_rollouts(work, model, candidate, features, args), args)
        if "footprint" in parts:
            footprint = time_footprint(work / "footprint", workload, chosen, args)
            write_footprint(footprint, workload, args)
        if "soak" in parts:
            write_soak(soak(work / "soak", workload, args), workload, args)


def compare_servers(work: Path, workload: Workload, chosen: list[str], args: argparse.Namespace) -> None:
    """The servers part: start, verify and time every chosen server, then write its section."""
    model, frames = workload.model, workload.frames
    with threadpool_limits(limits=1):  # one OpenMP thread, as each server worker has
        predict_one = measure("predict 1 row", lambda _: model.predict(frames[1]), 300)
        predict_hundred = measure("predict 100 rows", lambda _: model.predict(frames[100]), 100)
    reasons: dict[str, str] = {}
    servers: list[Server] = []
    try:
        servers = start_servers(chosen, work, model, workload.features, frames, reasons)
        results, others = time_servers(servers, work, frames, args, reasons)
    finally:
        for server in servers:
            server.stop()
    shares = [share for runs in others.values() for share in runs] or [0.0]
    context = {server.name: server.version for server in servers}
    context |= {
        "wrk": wrk_version(),
        "predict_one": f"{predict_one.median_ms:.2f}",
        "predict_hundred": f"{predict_hundred.median_ms:.2f}",
        "load": (
            f"{workload.busy_before:.0%} of the CPU busy in the 2 s before the servers started; during the "
            f"timed runs, other work took a median {statistics.median(shares):.0%} and at most "
            f"{max(shares):.0%} of it (all busy CPU time minus the timed server's, wrk's and this script's); "
            f"1-minute load average {workload.load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        ),
    }
    context.setdefault("shipyard", __version__)
    names = [name for key in chosen for name in SERVER_NAMES[key]]
    body = report(names, results, reasons, args, context, others)
    print(body)
    if not args.no_write:
        write_section("serving", "Real-time serving: shipyard vs MLflow vs BentoML", body)


def wrk_version() -> str:
    printed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (printed.stdout + printed.stderr).split("[")[0].strip().removeprefix("wrk ")


if __name__ == "__main__":
    main()
