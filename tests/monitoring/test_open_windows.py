"""A window in progress counted a segment at a time across runs gives what counting it from scratch gives,
reads each segment once, survives compaction, and starts again when a label arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.monitoring import attach_labels
from shipyard.monitoring.open_windows import OpenWindows
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import LogWriter, PredictionLog, compact
from shipyard.predictions.segments import Segment
from shipyard.registry import ModelVersion
from tests.models import transactions
from tests.monitoring.test_windows import _traffic
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)


def _segment(name: str, *replaces: str) -> Segment:
    return Segment(f"log/{name}", "m", 1, datetime(2026, 1, 1, tzinfo=UTC), 1, tuple(replaces))


def test_only_new_segments_are_counted_and_a_merged_one_is_recognised() -> None:
    windows: OpenWindows[list[str]] = OpenWindows()
    key = ("m", 1, datetime(2026, 1, 1, tzinfo=UTC))
    reads: list[list[str]] = []

    def count(tally: list[str], segments: list[Segment]) -> None:
        reads.append([segment.name for segment in segments])
        tally.extend(segment.name for segment in segments)

    windows.tally(key, "f", [_segment("a"), _segment("b")], list, count)
    tally = windows.tally(key, "f", [_segment("a"), _segment("b"), _segment("c")], list, count)
    assert reads == [["a", "b"], ["c"]] and tally == ["a", "b", "c"]
    # a and b merged into one segment that names them: already counted; d is new.
    tally = windows.tally(key, "f", [_segment("ab", "a", "b"), _segment("c"), _segment("d")], list, count)
    assert reads[-1] == ["d"] and tally == ["a", "b", "c", "d"]
    # c merged with e, which was never counted: the rows cannot be split, so the window is counted again.
    tally = windows.tally(
        key, "f", [_segment("ab", "a", "b"), _segment("ce", "c", "e"), _segment("d")], list, count
    )
    assert reads[-1] == ["ab", "ce", "d"] and tally == ["ab", "ce", "d"]
    # Something else the tally depends on changed: counted again.
    windows.tally(key, "g", [_segment("ab", "a", "b"), _segment("ce", "c", "e"), _segment("d")], list, count)
    assert reads[-1] == ["ab", "ce", "d"]
    assert windows.counted(_segment("d")) and windows.counted(_segment("x", "ab", "d"))
    assert not windows.counted(_segment("f")) and not windows.counted(_segment("y", "d", "f"))
    windows.forget_before(key[2] + HOUR)
    assert not windows.counted(_segment("d"))
    windows.tally(key, "g", [_segment("d")], list, count)
    assert reads[-1] == ["d"]


def _same(kept: WindowResult, fresh: WindowResult) -> None:
    assert (kept.rows, kept.requests, kept.labelled_rows) == (fresh.rows, fresh.requests, fresh.labelled_rows)
    assert kept.quality == fresh.quality and kept.health == fresh.health
    assert kept.drift is not None and fresh.drift is not None
    assert kept.drift.to_dict() == fresh.drift.to_dict()
    assert kept.accuracy == fresh.accuracy


@pytest.fixture
def hour(trained: tuple[Path, ModelVersion]) -> tuple[Path, ModelVersion, datetime]:
    home, version = trained
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 30 * HOUR
    return home, version, start


def _serve(registry: Registry, version: ModelVersion, rows: pd.DataFrame, at: datetime) -> list[str]:
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    records = _traffic(registry, version, rows, at, writer)
    writer.close()
    return [prediction for record in records for prediction in record.prediction_ids]


def test_a_window_kept_between_runs_matches_one_counted_from_scratch(
    hour: tuple[Path, ModelVersion, datetime],
) -> None:
    home, version, start = hour
    frame = transactions(rows=600, seed=21)[FEATURES]
    kept: OpenWindows[object] = OpenWindows()
    with Registry(home=home) as registry:
        log = PredictionLog(registry.settings.log_url)

        def both() -> tuple[WindowResult, WindowResult]:
            window = (start, start + HOUR)
            return monitor_window(registry, log, version, *window, open_windows=kept), monitor_window(
                registry, log, version, *window
            )

        first = _serve(registry, version, frame.iloc[:200], start + timedelta(minutes=5))
        _same(*both())
        _serve(registry, version, frame.iloc[200:400], start + timedelta(minutes=15))
        _same(*both())
        for store in log.stores:  # the hour's writer segments merged into one that names them
            compact(store, now=start + timedelta(minutes=20))
        _serve(registry, version, frame.iloc[400:], start + timedelta(minutes=25))
        with_compaction = both()
        _same(*with_compaction)
        assert with_compaction[0].rows == 600
        attach_labels(registry, log, [(first[0], 1), (first[1], 0)], settle_seconds=0)
        labelled = both()
        _same(*labelled)
        assert labelled[0].labelled_rows == 2
