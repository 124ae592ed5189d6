"""Storage benchmark: artifacts and the prediction log on an S3-compatible store against local disk.

1. Artifacts: a random model file (100 MB by default) stored with ``ArtifactStore.put_file`` (hash, then
   upload: a multipart upload of 8 MiB parts on S3, a copy with fsync on disk) and read back with ``fetch``
   (stream, re-hash, write), on a local folder and on SeaweedFS started on 127.0.0.1 (``tools/seaweedfs.py``);
   each repetition stores different bytes (the store is content-addressed); MB/s of the median.
2. Prediction log: ``LogWriter`` flushes of 2,000 single-row records (20 float inputs, a label, two
   probabilities, as bench/prediction_log.py), each flush one Parquet segment; records per second of flush
   time on each store, and the median time of a flush. Aim: S3 within 2x of local disk.

Both stores live on the same machine, so the figures are what shipyard's code and the S3 protocol add on
a fast network, not what a remote store costs.

    python bench/storage.py [--size-mb 100] [--repetitions 3] [--flushes 30] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from seaweedfs import ACCESS_KEY, REGION, SECRET_KEY, start

from _report import markdown_table, write_section
from prediction_log import FLUSH_RECORDS, log_throughput
from shipyard.config import ObjectStoreSettings, StorageURL
from shipyard.store.artifacts import ArtifactStore

MB = 1 << 20
BUCKET = "shipyard-bench"


@dataclass(frozen=True)
class StoreTimes:
    """Median seconds of one upload and one download, and the log's records/s and ms per flush."""

    upload: float
    download: float
    log_records_per_second: float
    log_flush_ms: float


def artifact_times(url: str, source: Path, scratch: Path, repetitions: int) -> tuple[float, float]:
    """Median seconds to store ``source`` (new bytes each time) and to fetch it back verified."""
    store = ArtifactStore(url)
    uploads, downloads = [], []
    for repetition in range(repetitions):
        with open(source, "r+b") as file:  # different bytes each time: the store keeps identical ones once
            file.write(f"{time.time_ns()}-{repetition}".encode().ljust(32))
        started = time.perf_counter()
        info = store.put_file(source)
        uploads.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.fetch(info, scratch / "fetched.bin", owner="bench/1")
        downloads.append(time.perf_counter() - started)
        (scratch / "fetched.bin").unlink()
    return statistics.median(uploads), statistics.median(downloads)


def measure_store(
    url: str, source: Path, scratch: Path, args: argparse.Namespace, log_url: str
) -> StoreTimes:
    upload, download = artifact_times(url, source, scratch, args.repetitions)
    per_second, per_flush_ms = log_throughput(log_url, args.flushes)
    return StoreTimes(upload, download, per_second, per_flush_ms)


def random_file(path: Path, megabytes: int) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "wb") as target:
        for _ in range(megabytes):
            target.write(rng.bytes(MB))
    return path


def report(local: StoreTimes, s3: StoreTimes, size_mb: int, args: argparse.Namespace) -> tuple[str, str]:
    """The printed table and the section's Markdown."""

    def row(operation: str, local_value: str, s3_value: str, ratio: float) -> list[str]:
        return [operation, local_value, s3_value, f"{ratio:.1f}x"]

    rows = [
        row(
            f"artifact upload, {size_mb} MB",
            f"{size_mb / local.upload:,.0f} MB/s",
            f"{size_mb / s3.upload:,.0f} MB/s",
            s3.upload / local.upload,
        ),
        row(
            f"artifact download, {size_mb} MB",
            f"{size_mb / local.download:,.0f} MB/s",
            f"{size_mb / s3.download:,.0f} MB/s",
            s3.download / local.download,
        ),
        row(
            "prediction log writes",
            f"{local.log_records_per_second:,.0f} records/s",
            f"{s3.log_records_per_second:,.0f} records/s",
            local.log_records_per_second / s3.log_records_per_second,
        ),
        row(
            f"one flush of {FLUSH_RECORDS:,} records",
            f"{local.log_flush_ms:.1f} ms",
            f"{s3.log_flush_ms:.1f} ms",
            s3.log_flush_ms / local.log_flush_ms,
        ),
    ]
    table = markdown_table(["operation", "local disk", "S3 (SeaweedFS)", "S3 time ÷ local"], rows)
    within = "within" if s3.log_flush_ms <= 2 * local.log_flush_ms else "**not** within"
    notes = (
        f"Artifacts: `ArtifactStore.put_file` (hash, then copy with fsync on disk, or a multipart upload of "
        f"8 MiB parts) and `fetch` (stream, re-hash, write) of a random {size_mb} MB file, new bytes each of "
        f"{args.repetitions} repetitions, medians. Prediction log: {args.flushes} `LogWriter` flushes of "
        f"{FLUSH_RECORDS:,} single-row records (20 float inputs, a label, two probabilities), one Parquet "
        f"segment each. SeaweedFS (`weed server`, `tools/seaweedfs.py`) runs on the same machine, so these "
        f"are shipyard's and the S3 protocol's costs on a fast network. Aim: log writes on S3 within 2x of "
        f"local disk: {within}."
    )
    return table, f"{table}\n\n{notes}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--flushes", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-storage-") as folder:
        scratch = Path(folder)
        source = random_file(scratch / "model.bin", args.size_mb)
        server = start(scratch / "seaweedfs", (BUCKET,))
        try:
            settings = ObjectStoreSettings(
                endpoint_url=server.endpoint_url,
                region=REGION,
                access_key_id=ACCESS_KEY,
                secret_access_key=SECRET_KEY,
            )
            local = measure_store(
                f"file://{scratch / 'artifacts'}", source, scratch, args, f"file://{scratch / 'logs'}"
            )
            s3 = measure_store(
                StorageURL(f"s3://{BUCKET}/artifacts", settings),
                source,
                scratch,
                args,
                StorageURL(f"s3://{BUCKET}/logs", settings),
            )
        finally:
            server.stop()
    table, body = report(local, s3, args.size_mb, args)
    print(table)
    if not args.no_write:
        write_section("storage", "Storage: artifacts and the prediction log on S3 against local disk", body)


if __name__ == "__main__":
    main()
