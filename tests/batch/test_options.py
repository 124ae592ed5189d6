"""``BatchOptions``: checked once when made, with messages that say what is allowed."""

from __future__ import annotations

import pytest

from shipyard.batch import BatchOptions
from shipyard.errors import InvalidInput


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"engine": "spark"}, "the engine is one of local, ray, got 'spark'"),
        ({"format": "json"}, "output format is parquet or csv, got 'json'"),
        ({"chunk_rows": 0}, "chunk_rows must be at least 1, got 0"),
        ({"max_reject_share": 1.5}, "max_reject_share is a share between 0 and 1, got 1.5"),
    ],
)
def test_options_outside_what_a_job_accepts_are_refused_when_made(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        BatchOptions(**changes)  # type: ignore[arg-type]


def test_options_keep_the_key_columns_they_were_given_whatever_happens_to_the_list() -> None:
    keys = ["id"]
    options = BatchOptions(key_columns=keys, workers=3)
    keys.append("customer")
    assert (options.keys, options.worker_count) == (["id"], 3)
    assert BatchOptions().keys is None and BatchOptions().worker_count >= 1
