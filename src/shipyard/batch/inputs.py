"""What a batch job reads: files found from paths, folders and globs, split into deterministic chunks.

A chunk is a run of rows of one file, at most ``chunk_rows`` long, always cut at the same places for the
same file: Parquet files by row groups (a row group larger than a chunk is cut into slices), CSV files by
counting rows as they stream. So a job started again cuts the same chunks and can skip those it finished,
and its output is the same as an uninterrupted run's. A chunk holds one file's rows only, so every row can
be named by its file and its row number there.

A CSV file's feature columns are read as text and the data contract parses them, like the server does
for CSV bodies: a bad value rejects its row instead of breaking the file's type inference half-way through.
Its other columns (keys, timestamps) get the types pyarrow infers.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shipyard.errors import InvalidInput, NotFound, UnreadableInput

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_HASH_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """One input file: where, which format, how big, and its content hash (what a run records)."""

    path: str
    format: str
    size: int
    sha256: str
    #: Rows, when the file says so up front (Parquet footers); None for CSV.
    rows: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Chunk:
    """Rows ``[first_row, first_row + len)`` of input file ``file_index``, the ``index``-th chunk of it."""

    file_index: int
    index: int
    first_row: int
    table: pa.Table

    @property
    def key(self) -> str:
        return f"{self.file_index:05d}-{self.index:05d}"


@dataclass(frozen=True)
class FileProblem:
    """An input file that could not be read (wholly, or from some chunk on)."""

    path: str
    problem: str


def find_inputs(sources: list[str]) -> list[InputFile]:
    """Every file that ``sources`` (files, folders, globs) name, in a stable order, hashed."""
    if not sources:
        raise InvalidInput("name at least one input: a file, a folder or a glob such as 'data/*.parquet'")
    paths: list[str] = []
    for source in sources:
        matched = _expand(source)
        if not matched:
            raise NotFound(f"no input file matches {source!r}")
        paths += matched
    seen: set[str] = set()
    files = []
    for path in paths:
        resolved = str(Path(path).resolve())
        if resolved in seen:
            continue
        seen.add(resolved)
        files.append(_describe(resolved))
    return files


def _expand(source: str) -> list[str]:
    path = Path(source)
    if path.is_dir():
        found = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in FORMATS]
        if not found:
            raise NotFound(f"the folder {source!r} holds no .parquet or .csv file")
        return found
    if any(mark in source for mark in "*?["):
        return sorted(p for p in glob.glob(source, recursive=True) if Path(p).is_file())
    if not path.exists():
        return []
    return [source]


def _describe(path: str) -> InputFile:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"cannot tell the format of {path!r}: use .parquet or .csv files")
    try:
        size = os.path.getsize(path)
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            while block := source.read(_HASH_BLOCK):
                digest.update(block)
    except OSError as error:
        raise InvalidInput(f"cannot read the input {path!r}: {error.strerror or error}") from None
    rows = None
    if FORMATS[suffix] == "parquet":
        try:
            rows = pq.read_metadata(path).num_rows
        except Exception:  # a damaged file: reported when its chunks are read, like every other problem
            rows = None
    return InputFile(path, FORMATS[suffix], size, digest.hexdigest(), rows)


def chunks(
    file: InputFile, file_index: int, chunk_rows: int, text_columns: list[str] | None = None
) -> Iterator[Chunk]:
    """The file's chunks in order (``text_columns`` of a CSV file read as text). Raises
    ``UnreadableInput`` where the file stops being readable."""
    tables = _parquet_tables(file) if file.format == "parquet" else _csv_tables(file, text_columns or [])
    index = first = 0
    pending: list[pa.Table] = []
    pending_rows = 0
    for table in tables:
        pending.append(table)
        pending_rows += table.num_rows
        while pending_rows >= chunk_rows:
            combined = pa.concat_tables(pending)
            yield Chunk(file_index, index, first, combined.slice(0, chunk_rows))
            index, first = index + 1, first + chunk_rows
            rest = combined.slice(chunk_rows)
            pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
    if pending_rows:
        yield Chunk(file_index, index, first, pa.concat_tables(pending))


def _parquet_tables(file: InputFile) -> Iterator[pa.Table]:
    try:
        parquet = pq.ParquetFile(file.path)
    except Exception as error:
        raise UnreadableInput(f"{file.path} is not a readable Parquet file: {error}") from None
    rows = 0
    for group in range(parquet.num_row_groups):
        try:
            table = parquet.read_row_group(group)
        except Exception as error:
            raise UnreadableInput(
                f"{file.path}: row group {group} (from row {rows}) is unreadable: {error}"
            ) from None
        rows += table.num_rows
        yield table


def _csv_tables(file: InputFile, text_columns: list[str]) -> Iterator[pa.Table]:
    if file.size == 0:
        return  # an empty file: no rows, reported by the job
    try:
        header = pa_csv.open_csv(file.path, read_options=pa_csv.ReadOptions(block_size=1 << 16))
        names = header.schema.names
        header.close()
        as_text = {name: pa.string() for name in names if name in text_columns}
        text = pa_csv.ConvertOptions(column_types=as_text, strings_can_be_null=True)
        reader = pa_csv.open_csv(file.path, convert_options=text)
    except Exception as error:
        raise UnreadableInput(f"{file.path} is not a readable CSV file: {error}") from None
    rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except Exception as error:
            raise UnreadableInput(f"{file.path}: unreadable after row {rows}: {error}") from None
        rows += batch.num_rows
        yield pa.Table.from_batches([batch])


@dataclass(frozen=True)
class ChunkSpec:
    """Where a chunk is, without its rows: what a worker on another machine reads for itself."""

    file_index: int
    index: int
    first_row: int
    rows: int

    @property
    def key(self) -> str:
        return f"{self.file_index:05d}-{self.index:05d}"


def chunk_specs(file: InputFile, file_index: int, chunk_rows: int) -> list[ChunkSpec]:
    """The file's chunks as ``chunks`` cuts them: rows [i × chunk_rows, (i + 1) × chunk_rows). A Parquet
    file's footer gives its rows; a CSV file is counted (streamed once)."""
    rows = file.rows
    if rows is None:
        rows = sum(
            table.num_rows
            for table in (_parquet_tables(file) if file.format == "parquet" else _csv_tables(file, []))
        )
    return [
        ChunkSpec(file_index, index, first, min(chunk_rows, rows - first))
        for index, first in enumerate(range(0, rows, chunk_rows))
    ]


def read_chunk(file: InputFile, spec: ChunkSpec, text_columns: list[str] | None = None) -> Chunk:
    """The rows of one chunk, read from the file alone (the same rows ``chunks`` yields for it). A Parquet
    chunk reads only the row groups it overlaps; a CSV chunk streams the file up to its rows."""
    end = spec.first_row + spec.rows
    if file.format == "parquet":
        try:
            parquet = pq.ParquetFile(file.path)
        except Exception as error:
            raise UnreadableInput(f"{file.path} is not a readable Parquet file: {error}") from None
        pieces, start = [], 0
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if start < end and start + size > spec.first_row:
                try:
                    table = parquet.read_row_group(group)
                except Exception as error:
                    raise UnreadableInput(
                        f"{file.path}: row group {group} (from row {start}) is unreadable: {error}"
                    ) from None
                low, high = max(spec.first_row - start, 0), min(end - start, size)
                pieces.append(table.slice(low, high - low))
            start += size
        return Chunk(spec.file_index, spec.index, spec.first_row, pa.concat_tables(pieces))
    pieces, start = [], 0
    for table in _csv_tables(file, text_columns or []):
        size = table.num_rows
        if start + size > spec.first_row:
            low, high = max(spec.first_row - start, 0), min(end - start, size)
            pieces.append(table.slice(low, high - low))
        start += size
        if start >= end:
            break
    return Chunk(spec.file_index, spec.index, spec.first_row, pa.concat_tables(pieces))
