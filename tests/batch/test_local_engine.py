"""The local engine's pipeline: chunks read, checked, predicted and written by threads, in bounded memory.

Outputs keep the input order and equal a one-thread run; an error in any chunk stops the run with that very
error and leaves no worker thread behind; an interrupted run resumes to the same output.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import Registry
from shipyard.batch import BatchInterrupted, BatchOptions, batch_run, score_batch
from shipyard.batch.inputs import Chunk
from shipyard.batch.local_engine import IN_PROCESS_ROWS, _bounded
from shipyard.batch.manifest import MANIFEST, SUCCESS
from shipyard.batch.scoring import ChunkOutcome
from shipyard.errors import Unauthorized
from tests.batch.conftest import table
from tests.models import ThresholdModel

ROWS = IN_PROCESS_ROWS + 10_000  # more than the engine scores in the calling thread: the worker threads run


def batch_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("batch_")]


def parts(folder: Path) -> dict[str, pa.Table]:
    return {path.name: pq.read_table(path) for path in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """ROWS rows in row groups that do not line up with the chunks."""
    path = tmp_path_factory.mktemp("engine") / "in.parquet"
    table(ROWS, 30).to_parquet(path, row_group_size=1_500)
    return [str(path)]


@pytest.fixture(scope="module")
def clean(trained: Path, source: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """The part files of one worker thread scoring the input, as run "same"."""
    folder = tmp_path_factory.mktemp("clean") / "out"
    with Registry(home=trained) as registry:
        score_batch(registry, "fraud/1", source, folder, options(workers=1))
    return parts(folder)


def options(workers: int) -> BatchOptions:
    return BatchOptions(run_id="same", chunk_rows=4_000, workers=workers, key_columns=["id"])


def test_many_threads_write_exactly_what_one_thread_writes_in_input_order(
    registry: Registry, source: list[str], clean: dict[str, pa.Table], tmp_path: Path
) -> None:
    result = score_batch(registry, "fraud/1", source, tmp_path / "out", options(workers=3))

    assert result.scored == ROWS and result.chunks == len(clean) == 15
    written = parts(tmp_path / "out")
    assert list(written) == list(clean)
    assert all(written[name].equals(clean[name]) for name in clean)
    ids = pa.concat_tables(written.values())["id"].to_pylist()
    assert ids == pq.read_table(source[0], columns=["id"])["id"].to_pylist()
    assert not batch_threads()


def test_a_failed_write_stops_the_run_with_its_own_error_and_no_thread_left(
    registry: Registry,
    source: list[str],
    clean: dict[str, pa.Table],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shipyard.batch.scoring as scoring

    real_write, calls = scoring.pq.write_table, []
    full = OSError(28, "No space left on device")

    def filling_up(table: pa.Table, where: object, **kwargs: object) -> None:
        calls.append(where)
        if len(calls) > 3:  # the disk fills up after three part files
            raise full
        real_write(table, where, **kwargs)

    monkeypatch.setattr(scoring.pq, "write_table", filling_up)
    with pytest.raises(BatchInterrupted, match="No space left on device") as raised:
        score_batch(registry, "fraud/1", source, tmp_path / "out", options(workers=3))
    assert raised.value.__cause__ is full
    assert not batch_threads()
    assert len(calls) < len(clean)  # the chunks not yet started were not scored
    listed = json.loads((tmp_path / "out" / MANIFEST).read_text())["chunks"]
    assert 0 < len(listed) <= 3 and all((tmp_path / "out" / c["output"]).is_file() for c in listed.values())

    monkeypatch.setattr(scoring.pq, "write_table", real_write)
    resumed = score_batch(registry, "fraud/1", source, tmp_path / "out", options(workers=3))
    assert resumed.resumed_chunks == len(listed) and resumed.scored == ROWS
    written = parts(tmp_path / "out")
    assert list(written) == list(clean) and all(written[name].equals(clean[name]) for name in clean)


def test_an_interrupted_run_leaves_only_whole_parts_and_resumes_to_the_same_output(
    registry: Registry, source: list[str], clean: dict[str, pa.Table], tmp_path: Path
) -> None:
    def interrupt_after_two_chunks(done: int, total: int | None) -> None:
        if done >= 8_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_batch(
            registry, "fraud/1", source, tmp_path / "out", options(workers=3),
            progress=interrupt_after_two_chunks,
        )  # fmt: skip
    assert not batch_threads()
    assert batch_run(registry, "same")["status"] == "interrupted"
    assert not (tmp_path / "out" / SUCCESS).exists()
    for name, written in parts(tmp_path / "out").items():  # every visible part is whole
        assert written.equals(clean[name])

    resumed = score_batch(registry, "fraud/1", source, tmp_path / "out", options(workers=3))
    assert resumed.status == "succeeded" and resumed.resumed_chunks >= 2
    written = parts(tmp_path / "out")
    assert list(written) == list(clean) and all(written[name].equals(clean[name]) for name in clean)


def test_a_model_that_cannot_load_stops_the_run_with_its_own_error(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register("threshold", ThresholdModel(40.0))
    table(300, 31).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(Unauthorized, match="trust"):
        score_batch(registry, "threshold/1", [str(tmp_path / "in.parquet")], tmp_path / "out")
    assert not list((tmp_path / "out").glob("part-*")) and not batch_threads()


# -- the bounded submission loop, on real threads ---------------------------------------------------------
class Chunks:
    """Numbered chunks of 10 rows; counts how many were taken and not yet reported finished."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.held = self.most_held = self.taken = 0
        self.reported: list[str] = []
        self.lock = threading.Lock()

    def __iter__(self) -> Iterator[Chunk]:
        for index in range(self.count):
            with self.lock:
                self.taken += 1
                self.held += 1
                self.most_held = max(self.most_held, self.held)
            yield Chunk(0, index, index * 10, pa.table({"x": list(range(10))}))

    def finished(self, outcome: ChunkOutcome) -> None:
        with self.lock:
            self.held -= 1
            self.reported.append(outcome.key)


def work(chunk: Chunk) -> ChunkOutcome:
    time.sleep(random.uniform(0, 0.01))  # chunks finish out of order
    return ChunkOutcome(chunk.key, 10, 10, 0, f"part-{chunk.key}.parquet", None, 0.0)


def test_no_more_chunks_than_the_limit_are_held_between_reading_and_reporting() -> None:
    chunks = Chunks(60)
    with ThreadPoolExecutor(3) as pool:
        _bounded(lambda chunk: pool.submit(work, chunk), iter(chunks), chunks.finished, 4)
    assert chunks.most_held == 4 and chunks.held == 0
    assert sorted(chunks.reported) == [f"00000-{index:05d}" for index in range(60)]


def test_a_failing_chunk_raises_its_error_and_the_chunks_not_started_never_start() -> None:
    chunks = Chunks(60)
    broken = ValueError("chunk 1 is broken")
    started: list[int] = []

    def work_or_fail(chunk: Chunk) -> ChunkOutcome:
        started.append(chunk.index)
        if chunk.index == 1:
            raise broken
        return work(chunk)

    with ThreadPoolExecutor(1) as pool:  # one worker: the chunks behind the broken one wait in the queue
        with pytest.raises(ValueError) as raised:
            _bounded(lambda chunk: pool.submit(work_or_fail, chunk), iter(chunks), chunks.finished, 4)
        assert raised.value is broken
    assert chunks.reported == ["00000-00000"]  # finished before the failure: reported
    # Reading stopped at the failure, and of the chunks waiting behind it at most the next one had begun.
    assert chunks.taken <= 5 and started[:2] == [0, 1] and len(started) <= 3
