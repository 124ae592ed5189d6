"""What a batch run reports: its counts, its problems and its status, summed from the run's manifest.

Its own module because the job (which produces it) and the run history (which records it) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.batch.inputs import FileProblem
from shipyard.batch.manifest import Manifest


@dataclass
class BatchResult:
    run_id: str
    model: str
    version: int
    output: str
    status: str
    rows: int = 0
    scored: int = 0
    rejected: int = 0
    chunks: int = 0
    resumed_chunks: int = 0
    seconds: float = 0.0
    unreadable: list[FileProblem] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    examples: list[tuple[str, int, str, str]] = field(default_factory=list)

    @property
    def reject_share(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "version": self.version,
            "output": self.output,
            "status": self.status,
            "rows": self.rows,
            "scored": self.scored,
            "rejected": self.rejected,
            "reject_share": round(self.reject_share, 6),
            "chunks": self.chunks,
            "resumed_chunks": self.resumed_chunks,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "unreadable": [problem.__dict__ for problem in self.unreadable],
            "empty_files": list(self.empty_files),
            "examples": [
                {"file": file, "row": row, "column": column, "reason": reason}
                for file, row, column, reason in self.examples
            ],
        }


def summarise(manifest: Manifest, result: BatchResult, status: str) -> BatchResult:
    """``result`` with ``status`` and the counts, problems and first examples the manifest records."""
    result.status = status
    result.chunks = len(manifest.chunks)
    result.rows = sum(int(chunk["rows"]) for chunk in manifest.chunks.values())
    result.scored = sum(int(chunk["scored"]) for chunk in manifest.chunks.values())
    result.rejected = sum(int(chunk["rejected"]) for chunk in manifest.chunks.values())
    result.unreadable = [
        FileProblem(entry["path"], entry["problem"])
        for entry in manifest.files.values()
        if entry.get("status") == "unreadable"
    ]
    result.empty_files = [
        entry["path"] for entry in manifest.files.values() if entry.get("status") == "empty"
    ]
    result.examples = [
        (file, int(row), column, reason)
        for key in sorted(manifest.chunks)
        for file, row, column, reason in manifest.chunks[key].get("examples", [])
    ][:10]
    return result
