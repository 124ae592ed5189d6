"""SQL over the prediction log is the ``query`` extra: without DuckDB the error says how to add it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shipyard.errors import MissingDependency
from shipyard.predictions import PredictionLog


def test_a_query_without_duckdb_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # what an install without the extra sees
    with pytest.raises(MissingDependency, match=r"pip install 'shipyard\[query\]'"):
        PredictionLog(tmp_path.as_uri()).query("SELECT 1")
