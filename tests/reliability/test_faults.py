"""Faults injected into real servers, each asserted: a killed worker, a killed server, a database that goes
away, a corrupt artifact and a full disk under the prediction log.

Every test starts its own ``shipyard serve`` on 127.0.0.1 with a small model and short intervals, breaks one
thing for real (SIGKILL, a TCP proxy cut between the server and PostgreSQL, bytes overwritten in the artifact
store, a file-size limit on the serving process) and checks what a user would see: who kept answering, what
the server counted, what the log kept, what came back without a restart.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import make_url

from shipyard import Registry
from shipyard.gates import promote
from shipyard.predictions import PredictionLog
from shipyard.store.feedback import FeedbackRepository
from shipyard.training import train
from tests.conftest import drop_postgres_schema, new_postgres_schema
from tests.models import transactions
from tests.receivers import WebhookReceiver, webhook_receiver
from tests.reliability import bounds
from tests.reliability.tcp_proxy import tcp_proxy
from tests.serving.conftest import Server, fraud_spec, start_server, stop_server, worker_processes

pytestmark = pytest.mark.slow

ROW = {"amount": 42.0, "channel": "web", "hour": 3}
PREDICT = "/v1/models/fraud/predict"
#: How long traffic runs around each fault.
LOAD_SECONDS = 6.0 if bounds.LONG else 2.0


def new_workspace(home: Path, registry_url: str | None = None) -> Path:
    """A workspace serving ``fraud@production`` (version 1), trained on a small table."""
    overrides = {"registry_url": registry_url} if registry_url else {}
    with Registry(home=home, **overrides) as registry:
        registry.datasets.add("tx", transactions(rows=300))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    return home


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained workspace; each test serves its own copy, so no fault leaks into another test."""
    return new_workspace(tmp_path_factory.mktemp("faults") / "ws")


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(template, copy)
    return copy


@dataclass
class Load:
    """Clients posting one-row predictions until stopped, keeping every outcome with its time."""

    url: str
    answered: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, prediction id)
    statuses: Counter[int | str] = field(default_factory=Counter)
    outcomes: list[tuple[float, int | str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, clients: int = 4) -> Load:
        self.threads = [threading.Thread(target=self._drive, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _drive(self) -> None:
        with httpx.Client(base_url=self.url, timeout=15.0) as client:
            while not self.stop.is_set():
                outcome: int | str
                try:
                    response = client.post(PREDICT, json={"records": [ROW]})
                    outcome = response.status_code
                    if outcome == 200:
                        self.answered.append((time.monotonic(), response.json()["prediction_ids"][0]))
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                self.statuses[outcome] += 1
                self.outcomes.append((time.monotonic(), outcome))


def worker_pids(server: Server) -> list[int]:
    """The uvicorn worker processes of a server (forked by its fork server)."""
    return sorted(worker.pid for worker in worker_processes(server.process.pid))


def counter(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus series' samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds:g} s")


# -- a worker killed under load ------------------------------------------------------------------------------
def exited(pid: int, seconds: float) -> float:
    """The time a killed process had finished exiting (a zombie or gone): by then the kernel has closed every
    socket it held. Polled every millisecond."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return time.monotonic()
        except psutil.NoSuchProcess:
            return time.monotonic()
        time.sleep(0.001)
    raise AssertionError(f"process {pid} still running {seconds:g} s after SIGKILL")


def test_killed_worker_is_replaced_while_the_others_keep_answering(home: Path) -> None:
    server = start_server(home, ["fraud@production"], "--no-monitor", "--no-rollouts", workers=2)
    try:
        [victim, survivor] = worker_pids(server)
        load = Load(server.url).start()
        time.sleep(LOAD_SECONDS / 2)
        killed_at = time.monotonic()
        psutil.Process(victim).send_signal(signal.SIGKILL)
        exited_at = exited(victim, 10)
        # The supervisor may wait up to 30 s (its health-check timeout) on a busy live worker first.
        wait_for(lambda: len(set(worker_pids(server)) - {victim, survivor}) == 1, 40, "a new worker")
        [replacement] = set(worker_pids(server)) - {victim, survivor}
        replaced_at = time.monotonic()
        with server.client() as client:
            wait_for(lambda: client.get("/health/ready").status_code == 200, 30, "readiness")
        time.sleep(LOAD_SECONDS)
        load.finish()
        with server.client() as client:
            metrics = client.get("/metrics").text
        assert psutil.Process(replacement).is_running() and psutil.Process(survivor).is_running()
    finally:
        load.finish()
        stop_server(server)

    # The survivor kept answering: requests were answered between the kill and the replacement.
    assert any(killed_at < at < replaced_at for at, _ in load.answered) or replaced_at - killed_at < 0.5
    # Only requests on the killed worker failed, as connections it held were cut: the ones in flight, and any
    # a client reconnected onto the worker's socket before the exiting process had closed it (docs/deploy.md
    # says how the kernel can hand those to the other workers). Once it had exited, nothing failed.
    failures = [(at, status) for at, status in load.outcomes if status != 200]
    assert all(isinstance(status, str) for _, status in failures), load.statuses
    assert all(at < exited_at + 0.25 for at, _ in failures), (failures, exited_at - killed_at)
    # After the replacement came up, nothing failed.
    late = [status for at, status in load.outcomes if at > replaced_at + 0.5]
    assert late and set(late) == {200}
    # The server's count agrees with the clients': every answered request is counted (the killed worker's
    # counts survive it); at most the failed in-flight ones were counted and not delivered.
    served = counter(metrics, "shipyard_requests_total", status="200")
    assert load.statuses[200] <= served <= load.statuses[200] + len(failures)
    assert counter(metrics, "shipyard_in_flight_requests") == 0, "a dead worker's requests stay in flight"


def test_workers_of_a_killed_supervisor_stop_serving_and_exit(home: Path) -> None:
    """Killed with SIGKILL, the supervisor cannot stop its workers: they notice and shut down themselves,
    so no unsupervised worker keeps answering from the inherited socket (nor holds the port)."""
    server = start_server(home, ["fraud@production"], "--no-monitor", "--no-rollouts", workers=2)
    workers = [psutil.Process(pid) for pid in worker_pids(server)]
    try:
        assert len(workers) == 2
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=20)
    finally:
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
    assert not alive, f"workers {[p.pid for p in alive]} outlived their supervisor"
    assert "supervisor" in server.log_text() and "shuts down" in server.log_text()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health/ready", timeout=2.0)


# -- a corrupt artifact -------------------------------------------------------------------------------------
def test_corrupt_version_is_refused_by_hash_and_the_old_one_keeps_serving(home: Path) -> None:
    with Registry(home=home) as registry:
        model = registry.load_model("fraud/1").native
        model.shipyard_variant = 2  # other bytes than version 1's: its own artifact object
        second = registry.register("fraud", model, description="to be corrupted")
        stored = Path(registry.artifacts.object_path(second.artifact_sha256))
    server = start_server(home, ["fraud@production"], "--no-monitor", workers=1)
    try:
        damaged = bytearray(stored.read_bytes())
        damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte, the size unchanged
        stored.write_bytes(bytes(damaged))
        with Registry(home=home) as registry:
            registry.set_alias("fraud", "production", 2, reason="promote a corrupted version")
        with server.client() as client:
            wait_for(
                lambda: client.get("/health/ready").json()["models"]["fraud"]["error"], 15, "the load error"
            )
            health = client.get("/health/ready")
            answered = [client.post(PREDICT, json={"records": [ROW]}) for _ in range(5)]
    finally:
        stop_server(server)
    assert health.status_code == 200  # the old version still serves: the server stays ready
    error = health.json()["models"]["fraud"]["error"]
    assert "fraud/2" in error and "corrupted" in error and "hash" in error, error
    assert health.json()["models"]["fraud"]["version"] == 1
    assert {response.status_code for response in answered} == {200}
    assert {response.json()["version"] for response in answered} == {1}
    assert "IntegrityError" not in server.log_text() or "Traceback" not in server.log_text()


# -- the whole server killed and restarted ------------------------------------------------------------------
FLUSH_SECONDS = 0.5
REFUSED = {"records": [{**ROW, "amount": "x"}]}


def kill_process_tree(server: Server) -> None:
    """SIGKILL the server and everything it started, all at once: no shutdown code runs anywhere."""
    main = psutil.Process(server.process.pid)
    for process in [main, *main.children(recursive=True)]:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    server.process.wait(timeout=10)


def notifications(hook: WebhookReceiver, rule: str) -> list[str]:
    """The statuses (firing, resolved) of the notifications ``rule`` sent, in order."""
    return [
        payload["status"]
        for payload in (received.json() for received in hook.received)
        if payload["alert"]["rule"] == rule
    ]


@dataclass
class Refusals:
    """A client sending a request the contract refuses every 0.2 s, to the server at ``url`` (changed when
    the server restarts)."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._drive, daemon=True)
        self.thread.start()

    def _drive(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.wait(0.2):
                try:
                    client.post(f"{self.url}{PREDICT}", json=REFUSED)
                except httpx.TransportError:
                    continue  # the server is down or restarting

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def alert_rules(folder: Path, hook: WebhookReceiver) -> Path:
    rules = folder / "alerts.toml"
    rules.write_text(
        f"""
[alerts]
default_channels = ["hook"]
[alerts.defaults]
enabled = false
[alerts.channels.hook]
type = "webhook"
url = "{hook.url}"
[[alerts.rules]]
name = "refusals"
model = "fraud@production"
figure = "health.rejected_rate"
window = "1m"
above = 0
"""
    )
    return rules


def test_killed_server_restarts_losing_at_most_a_flush_and_without_alerting_twice(
    home: Path, tmp_path: Path
) -> None:
    with webhook_receiver() as hook:
        environment = {
            "SHIPYARD_LOG_FLUSH_SECONDS": str(FLUSH_SECONDS),
            "SHIPYARD_ALERTS_FILE": str(alert_rules(tmp_path, hook)),
        }
        options = ("--monitor-interval", "0.5", "--monitor-window", "1m")
        server = start_server(home, ["fraud@production"], *options, workers=1, environment=environment)
        refusals = Refusals(server.url)  # the alert's condition holds throughout, across the restart
        try:
            wait_for(lambda: notifications(hook, "refusals"), 30, "the alert firing")
            load = Load(server.url).start()
            time.sleep(LOAD_SECONDS)
            wait_for(lambda: len(load.answered) >= 50, 60, "fifty answered predictions")
            killed_at = time.monotonic()
            kill_process_tree(server)
            load.finish()
            lost = _lost_predictions(home, load, before=killed_at - FLUSH_SECONDS - 0.25)
            server = start_server(home, ["fraud@production"], *options, workers=1, environment=environment)
            refusals.url = server.url
            firing = 'rule="refusals",severity="warning",state="firing"'
            with server.client() as client:
                wait_for(lambda: firing in client.get("/metrics").text, 30, "the alert resuming")
                time.sleep(4.0)  # several evaluations after the restart, the refusals still coming
                still_firing = firing in client.get("/metrics").text
        finally:
            refusals.finish()
            stop_server(server)
    assert not lost, f"{len(lost)} predictions answered before the last flush were lost"
    # The alert resumed firing without telling anyone again: one notification, before the kill.
    assert still_firing
    assert notifications(hook, "refusals") == ["firing"]


def _lost_predictions(home: Path, load: Load, *, before: float) -> list[str]:
    """Predictions answered before ``before`` (monotonic) that the prediction log does not hold."""
    logged = PredictionLog(str(home / "logs")).scan("fraud", columns=["prediction_id"])
    kept = set(logged.column("prediction_id").to_pylist()) if logged is not None else set()
    settled = [pid for at, pid in load.answered if at < before]
    assert len(settled) > 10, "too few predictions were answered before the kill to judge"
    return [pid for pid in settled if pid not in kept]


# -- the metadata database unreachable ----------------------------------------------------------------------
@pytest.fixture
def postgres_home(template: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A workspace whose registry is a fresh PostgreSQL schema, serving version 1 of the template's model."""
    url, schema = new_postgres_schema()
    home = tmp_path / "pg"
    try:
        with Registry(home=template) as source, Registry(home=home, registry_url=url) as registry:
            first = source.get_version("fraud", 1)
            registry.register("fraud", source.load_model("fraud/1").native, description="served")
            registry.set_alias("fraud", "production", 1, reason="serve it")
            assert first.flavor == registry.get_version("fraud", 1).flavor
        yield home, url
    finally:
        drop_postgres_schema(schema)


def test_database_outage_answers_503_keeps_predicting_and_recovers(postgres_home: tuple[Path, str]) -> None:
    home, url = postgres_home
    database = make_url(url)
    with tcp_proxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        through_proxy = database.set(port=proxy.port).render_as_string(hide_password=False)
        environment = {"SHIPYARD_REGISTRY_URL": through_proxy, "SHIPYARD_LOG_FLUSH_SECONDS": "0.2"}
        server = start_server(home, ["fraud@production"], "--no-monitor", workers=1, environment=environment)
        try:
            with server.client() as client:
                before = client.post(PREDICT, json={"records": [ROW, ROW]}).json()["prediction_ids"]
                assert client.post("/v1/feedback", json=_labels(before[:1])).status_code == 200
                proxy.cut()
                during = _during_outage(client, before[1:])
                proxy.restore()
                database_up = "shipyard_metadata_database_up 1.0"
                wait_for(lambda: database_up in client.get("/metrics").text, 15, "recovery")
                wait_for(
                    lambda: client.get("/health/ready").json()["models"]["fraud"]["error"] is None,
                    10,
                    "the database error clearing from /health",
                )
                after = client.post("/v1/feedback", json=_labels(before[1:]))
        finally:
            stop_server(server)

    feedback, metrics, predictions, health = during
    assert feedback.status_code == 503, feedback.text
    assert "database" in feedback.text and "retry" in feedback.text.lower(), feedback.text
    assert int(feedback.headers["retry-after"]) >= 1
    # A scrape still gets the request metrics, and is told the monitor figures are missing and why.
    assert metrics.status_code == 200 and "shipyard_metadata_database_up 0.0" in metrics.text, metrics.text
    assert counter(metrics.text, "shipyard_requests_total", model="fraud") > 0
    for response in (feedback, metrics):
        assert response.elapsed.total_seconds() < 10, "a request waited on the unreachable database"
    assert {response.status_code for response in predictions} == {200}
    assert health.status_code == 200 and "database" in (health.json()["models"]["fraud"]["error"] or "")
    assert after.status_code == 200 and after.json()["attached"] == 1, after.text
    # Nothing half-written: the registry reads, and the labels are exactly the two acknowledged ones.
    with Registry(home=home, registry_url=url) as registry:
        assert registry.resolve("fraud@production").version == 1
        labels = FeedbackRepository(registry.db).all_labels()
    assert sorted(label.prediction_id for label in labels) == sorted(before)
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def _labels(prediction_ids: list[str]) -> dict[str, object]:
    return {"labels": [{"prediction_id": pid, "label": 1} for pid in prediction_ids]}


def _during_outage(client: httpx.Client, unlabelled: list[str]) -> tuple[httpx.Response, ...]:
    """While the database is cut: a request that writes to it, one that reads it, predictions, health."""
    time.sleep(1.5)  # the server's alias refresh meets the outage too
    predictions = [client.post(PREDICT, json={"records": [ROW]}) for _ in range(5)]
    feedback = client.post("/v1/feedback", json=_labels(unlabelled))
    metrics = client.get("/metrics")
    health = client.get("/health/ready")
    return feedback, metrics, predictions, health


# -- a full disk under the prediction log -------------------------------------------------------------------
#: The serving process may write files up to this size: every new log segment is larger, so it fails with
#: EFBIG as it would with ENOSPC on a full disk (Python ignores SIGXFSZ, so the write fails, not the process).
FILE_SIZE_LIMIT = 512


def _predict_rows(client: httpx.Client, requests: int) -> list[str]:
    ids: list[str] = []
    for _ in range(requests):
        response = client.post(PREDICT, json={"records": [ROW, ROW, ROW]})
        assert response.status_code == 200, response.text
        ids += response.json()["prediction_ids"]
    return ids


def test_full_disk_drops_log_rows_counts_them_and_serving_goes_on(home: Path) -> None:
    environment = {"SHIPYARD_LOG_FLUSH_SECONDS": "0.2", "SHIPYARD_LOG_USAGE_SECONDS": "0.2"}
    server = start_server(home, ["fraud@production"], "--no-monitor", workers=1, environment=environment)
    serving = psutil.Process(server.process.pid)  # one worker: uvicorn serves in the main process
    log = PredictionLog(str(home / "logs"))
    _, unlimited = serving.rlimit(psutil.RLIMIT_FSIZE)
    try:
        with server.client() as client:
            before = _predict_rows(client, 10)
            wait_for(lambda: _logged(log) >= set(before), 10, "the first rows reaching the log")
            serving.rlimit(psutil.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, unlimited))  # the disk is full
            time.sleep(0.5)  # a flush of what was buffered before may still succeed or fail: either counts
            during = _predict_rows(client, 20)
            time.sleep(1.0)
            metrics_during = client.get("/metrics").text
            serving.rlimit(psutil.RLIMIT_FSIZE, (unlimited, unlimited))  # space again
            after = _predict_rows(client, 10)
            wait_for(lambda: _logged(log) >= set(after), 10, "rows reaching the log again")
            metrics_after = client.get("/metrics").text
    finally:
        stop_server(server)

    dropped = counter(metrics_during, "shipyard_prediction_log_dropped_rows_total", stream="predictions")
    assert dropped >= len(during)
    assert counter(metrics_during, "shipyard_prediction_log_dropped_rows_total", stream="usage") > 0
    logged = _logged(log)
    assert not logged & set(during)  # lost, and counted …
    assert logged >= set(before) | set(after)  # … while what was written before and after is all readable
    written = counter(metrics_after, "shipyard_prediction_log_rows_total")
    lost = counter(metrics_after, "shipyard_prediction_log_dropped_rows_total", stream="predictions")
    assert written + lost == len(before) + len(during) + len(after)  # every answered row is accounted for
    assert written == len(logged)
    # Nothing half-written is left behind: no temporary files, every segment readable.
    assert not [path for path in (home / "logs").rglob("*") if path.name.endswith(".tmp")]
    for segment in (home / "logs").rglob("*.parquet"):
        pq.read_metadata(segment)


def _logged(log: PredictionLog) -> set[str]:
    table = log.scan("fraud", columns=["prediction_id"])
    return set(table.column("prediction_id").to_pylist()) if table is not None else set()
