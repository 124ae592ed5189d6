"""``--engine ray``: the same job on a (local) Ray instance writes what the local engine writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shipyard import Registry
from shipyard.batch import BatchOptions, score_batch
from shipyard.batch.inputs import ChunkSpec, chunk_specs, chunks, find_inputs, read_chunk
from tests.batch.conftest import table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one worker runs every Ray test


def test_the_ray_engine_matches_the_local_engine_row_for_row(registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    table(2_500, 30).to_parquet(data / "a.parquet", row_group_size=700)
    frame = table(1_300, 31).astype({"amount": object})
    frame.loc[[4, 1_100], "amount"] = "broken"
    frame.to_csv(data / "b.csv", index=False)
    options = BatchOptions(chunk_rows=1_000, key_columns=["id"], run_id="same")
    local = score_batch(registry, "fraud/1", [str(data)], tmp_path / "local", options)
    ray = score_batch(
        registry, "fraud/1", [str(data)], tmp_path / "ray", replace(options, engine="ray", workers=2)
    )
    assert (ray.rows, ray.scored, ray.rejected, ray.chunks) == (local.rows, local.scored, local.rejected, 5)
    assert ray.rejected == 2
    for kind in ("part-*.parquet", "rejects/part-*.parquet"):
        names = sorted(path.relative_to(tmp_path / "local") for path in (tmp_path / "local").glob(kind))
        assert names == sorted(path.relative_to(tmp_path / "ray") for path in (tmp_path / "ray").glob(kind))
        for name in names:
            assert pq.read_table(tmp_path / "local" / name).equals(pq.read_table(tmp_path / "ray" / name)), (
                name
            )


def test_a_chunk_read_on_its_own_has_the_rows_the_stream_gives(tmp_path: Path) -> None:
    table(2_345, 32).to_parquet(tmp_path / "a.parquet", row_group_size=300)
    table(1_234, 33).to_csv(tmp_path / "b.csv", index=False)
    for index, file in enumerate(find_inputs([str(tmp_path / "a.parquet"), str(tmp_path / "b.csv")])):
        streamed = list(chunks(file, index, 500, text_columns=["amount"]))
        specs = chunk_specs(file, index, 500)
        assert [ChunkSpec(c.file_index, c.index, c.first_row, c.table.num_rows) for c in streamed] == specs
        for chunk, spec in zip(streamed, specs, strict=True):
            assert read_chunk(file, spec, ["amount"]).table.equals(chunk.table)
