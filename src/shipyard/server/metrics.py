"""Prometheus metrics of the inference server, correct across worker processes.

With several uvicorn workers each process counts its own requests; prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set by ``shipyard serve`` before the workers start) writes them to shared
files that ``/metrics`` aggregates, so a scrape of any worker reports the whole server.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from typing import Any

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from shipyard.predictions.segments import STREAMS
from shipyard.serving.batcher import BatchStats

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

REQUESTS = Counter(
    "shipyard_requests_total",
    "Inference requests by outcome, with the version and the arm of a rollout that answered.",
    ["model", "version", "arm", "protocol", "status"],
)
SHADOW_REQUESTS = Counter(
    "shipyard_shadow_requests_total",
    "Copies of requests mirrored to a shadow candidate: answered, failed, or dropped (too many in flight).",
    ["model", "version", "arm", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "shipyard_request_seconds",
    "Total time to answer a request.",
    ["model", "protocol"],
    buckets=_LATENCY_BUCKETS,
)
QUEUE_SECONDS = Histogram(
    "shipyard_queue_seconds", "Time a request waited for its batch.", ["model"], buckets=_LATENCY_BUCKETS
)
COMPUTE_SECONDS = Histogram(
    "shipyard_compute_seconds", "Time to validate and predict one batch.", ["model"], buckets=_LATENCY_BUCKETS
)
BATCH_ROWS = Histogram("shipyard_batch_rows", "Rows per predict call.", ["model"], buckets=_ROW_BUCKETS)
BATCH_REQUESTS = Histogram(
    "shipyard_batch_requests", "Requests per predict call.", ["model"], buckets=_ROW_BUCKETS
)
IN_FLIGHT = Gauge(
    "shipyard_in_flight_requests", "Requests being answered.", ["model"], multiprocess_mode="livesum"
)
LOAD_SECONDS = Gauge(
    "shipyard_model_load_seconds",
    "Time to load and warm a version (arm: stable, or the candidate's during a rollout).",
    ["model", "version", "arm"],
    multiprocess_mode="max",
)
SERVED_VERSION = Gauge(
    "shipyard_served_version", "Version each worker serves.", ["model"], multiprocess_mode="liveall"
)

LOGGED_ROWS = Counter("shipyard_prediction_log_rows_total", "Predicted rows written to the prediction log.")
LOG_FLUSH_SECONDS = Histogram(
    "shipyard_prediction_log_flush_seconds",
    "Time to write one flush of the prediction log.",
    buckets=_LATENCY_BUCKETS,
)

DROPPED_ROWS = Counter(
    "shipyard_prediction_log_dropped_rows_total",
    "Rows the prediction log could not write (a full disk, an unreachable store), per stream.",
    ["stream"],
)
for _stream in STREAMS:  # every stream's series exists from the start, at 0: an alert can watch its increase
    DROPPED_ROWS.labels(_stream)


def record_log_flush(rows: int, seconds: float) -> None:
    LOGGED_ROWS.inc(rows)
    LOG_FLUSH_SECONDS.observe(seconds)


def record_log_drop(stream: str, rows: int) -> None:
    DROPPED_ROWS.labels(stream).inc(rows)


def record_shadow(model: str, version: int, outcome: str) -> None:
    SHADOW_REQUESTS.labels(model, str(version), "shadow", outcome).inc()


def record_batch(model: str, version: int, stats: BatchStats) -> None:
    COMPUTE_SECONDS.labels(model).observe(stats.compute_seconds)
    BATCH_ROWS.labels(model).observe(stats.rows)
    BATCH_REQUESTS.labels(model).observe(stats.requests)
    for waited in stats.queue_seconds:
        QUEUE_SECONDS.labels(model).observe(waited)


def monitor_exposition(
    points: dict[str, list[tuple[int, str, str, float | None]]],
    window: str,
    alerts: list[dict[str, Any]],
    arm_of: Callable[[str, int], str] = lambda model, version: "stable",
) -> bytes:
    """The newest monitoring window's figures of each served model (``shipyard_monitor_value``) and the
    alerts pending or firing (``shipyard_alerts``, 1 each, like Prometheus' own ``ALERTS``).

    Both are read from the metadata database at scrape time (the monitoring runner writes them), so every
    worker reports the same values. ``arm_of(model, version)`` names the arm each version answers as now:
    the candidate of a rollout is ``canary`` or ``shadow``, every other version ``stable``.
    """
    figures_family = GaugeMetricFamily(
        "shipyard_monitor_value",
        "Newest monitoring window's figures (drift scores, quality, accuracy, health) per model version.",
        labels=["model", "version", "arm", "window", "metric", "column"],
    )
    for model, figures in points.items():
        for version, metric, column, value in figures:
            if value is not None:
                labels = [model, str(version), arm_of(model, version), window, metric, column]
                figures_family.add_metric(labels, value)
    alerts_family = GaugeMetricFamily(
        "shipyard_alerts",
        "Alerts pending or firing: 1 per alert.",
        labels=["rule", "model", "version", "arm", "column", "severity", "state"],
    )
    for alert in alerts:
        model, version = alert["model"], alert["version"]
        arm = arm_of(model, version) if isinstance(version, int) else "stable"
        labels = [alert["rule"], model, str(version), arm, alert["column"], alert["severity"]]
        alerts_family.add_metric([*labels, alert["state"]], 1.0)

    return _families(figures_family, alerts_family, _database_up(True))


def database_down_exposition() -> bytes:
    """What a scrape adds while the metadata database is out of reach: only that it is."""
    return _families(_database_up(False))


def _database_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "shipyard_metadata_database_up",
        "1 when the metadata database answered this scrape (monitor figures and alerts are then included).",
        value=1.0 if up else 0.0,
    )


def _families(*families: GaugeMetricFamily) -> bytes:
    class _Fixed:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield from families

    registry = CollectorRegistry()
    registry.register(_Fixed())
    return generate_latest(registry)


def exposition() -> tuple[bytes, str]:
    """The metrics text (aggregated over workers in multiprocess mode) and its content type."""
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def _forget_dead_workers(directory: str) -> None:
    """A worker killed outright (SIGKILL, the OOM killer) never marks itself dead, so its live gauges — the
    requests it had in flight, the version it served — would count forever; its files go at the next scrape.
    Its counters stay: what it answered was answered."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = path.rsplit("_", 1)[1].removesuffix(".db")
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)
