"""A folder of the log on local disk is listed by one scandir, with what fsspec's listing gives the readers:
each entry's full path, its type, size and modification time; a missing folder lists as empty."""

from __future__ import annotations

from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from shipyard.predictions.segments import list_entries


def test_a_local_listing_gives_what_fsspec_gives(tmp_path: Path) -> None:
    (tmp_path / "13").mkdir()
    (tmp_path / "a.parquet").write_bytes(b"x" * 123)
    (tmp_path / "b.parquet.tmp").write_bytes(b"")
    fs = LocalFileSystem()
    keys = ("name", "type", "size", "mtime")

    def described(entries: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return sorted(tuple(entry[key] for key in keys) for entry in entries if entry["type"] == "file")

    ours = list_entries(fs, str(tmp_path))
    theirs = fs.ls(str(tmp_path), detail=True)
    assert described(ours) == described(theirs)
    assert sorted((entry["name"], entry["type"]) for entry in ours) == sorted(
        (entry["name"], entry["type"]) for entry in theirs
    )
    assert list_entries(fs, str(tmp_path / "missing")) == []
    assert list_entries(fs, str(tmp_path / "a.parquet")) == []
