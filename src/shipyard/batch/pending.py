"""The work a run has left: the chunks its manifest does not list as finished, file by file.

An engine takes them either as chunks read here (the local engine) or as descriptions its workers read
themselves (the Ray engine). Either way each input file's fate (done, empty or unreadable) is recorded in
the manifest, so the run's summary and its policy see every file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.batch.inputs import (
    Chunk,
    ChunkSpec,
    InputFile,
    chunk_specs,
    chunks,
    read_chunk,
)
from shipyard.batch.manifest import Manifest
from shipyard.errors import UnreadableInput

log = logging.getLogger("shipyard.batch")


@dataclass
class PendingWork:
    files: list[InputFile]
    manifest: Manifest
    folder: Path
    features: list[str]  # read as text from CSV files: the contract parses them
    #: Rows still to score (None when unknown, as for CSV).
    remaining_rows: int | None = None

    def chunks(self) -> Iterator[Chunk]:
        """Chunks not yet finished (listed in the manifest with their output present); unreadable files
        are recorded and skipped, the rest go on. A resumed Parquet file has only its unfinished chunks
        read (its footer says where they are); any other file is streamed, finished chunks skipped."""
        chunk_rows = self.manifest.chunk_rows
        for index, file in enumerate(self.files):
            count = 0
            resumed = file.rows is not None and any(
                key.startswith(f"{index:05d}-") for key in self.manifest.chunks
            )
            try:
                if resumed:
                    for spec in chunk_specs(file, index, chunk_rows):
                        count += 1
                        if not self.finished(spec.key):
                            yield read_chunk(file, spec, self.features)
                else:
                    for chunk in chunks(file, index, chunk_rows, text_columns=self.features):
                        count += 1
                        if not self.finished(chunk.key):
                            yield chunk
            except UnreadableInput as error:
                log.warning("%s", error)
                self.unreadable(index, str(error))
                continue
            self._read(index, count)

    def specs(self) -> list[ChunkSpec]:
        """The chunks not yet finished, as descriptions (for workers that read their rows themselves)."""
        specs: list[ChunkSpec] = []
        for index, file in enumerate(self.files):
            try:
                found = chunk_specs(file, index, self.manifest.chunk_rows)
            except UnreadableInput as error:
                self.unreadable(index, str(error))
                continue
            self._read(index, len(found))
            specs.extend(spec for spec in found if not self.finished(spec.key))
        return specs

    def unreadable(self, file_index: int, problem: str) -> None:
        """Record that input file ``file_index`` could not be read, and why."""
        path = self.files[file_index].path
        self.manifest.files[str(file_index)] = {"path": path, "status": "unreadable", "problem": problem}

    def finished(self, key: str) -> bool:
        """Whether chunk ``key`` is listed in the manifest with its output files present."""
        recorded = self.manifest.chunks.get(key)
        return recorded is not None and _outputs_exist(self.folder, recorded)

    def _read(self, file_index: int, chunk_count: int) -> None:
        path = self.files[file_index].path
        self.manifest.files[str(file_index)] = {"path": path, "status": "done" if chunk_count else "empty"}


def _outputs_exist(folder: Path, recorded: dict[str, Any]) -> bool:
    return all(
        (folder / name).is_file() for name in (recorded.get("output"), recorded.get("rejects")) if name
    )
