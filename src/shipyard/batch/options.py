"""How to run a batch job: ``BatchOptions``, checked once when made, then passed down whole.

score_batch(registry, "fraud@production", ["data/"], "preds/", BatchOptions(key_columns=["id"]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.errors import InvalidInput
from shipyard.threads import available_cpus

DEFAULT_CHUNK_ROWS = 100_000
ENGINES = ("local", "ray")
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class BatchOptions:
    """Everything about a batch job but the model, the inputs and the output folder.

    ``run_id``: resume this run (same folder, inputs and version), or name a new one. ``key_columns``: input
    columns copied to the output (default: every input column that is not a feature). ``format``: parquet
    or csv. ``workers``: default every core. ``max_reject_share``: fail the job when more of the rows than
    this could not be scored. ``skip_unreadable``: succeed even when an input file cannot be read.
    ``trust``: load formats that run code when loaded. ``log_predictions``: also write the prediction log.
    ``timestamp_column``: with ``log_predictions``, the input column saying when each row happened; rows
    are logged at those times instead of the run's start (timestamps, dates or ISO 8601 text, no nulls).
    ``engine``: local (every core here) or ray (the ``ray_address`` cluster).
    """

    run_id: str | None = None
    key_columns: Sequence[str] | None = None
    format: str = "parquet"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    workers: int | None = None
    max_reject_share: float = 1.0
    skip_unreadable: bool = False
    trust: bool = False
    log_predictions: bool = False
    timestamp_column: str | None = None
    engine: str = "local"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InvalidInput(f"the engine is one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.format not in FORMATS:
            raise InvalidInput(f"output format is parquet or csv, got {self.format!r}")
        if self.chunk_rows < 1:
            raise InvalidInput(f"chunk_rows must be at least 1, got {self.chunk_rows}")
        if not 0 <= self.max_reject_share <= 1:
            raise InvalidInput(f"max_reject_share is a share between 0 and 1, got {self.max_reject_share}")
        if self.timestamp_column is not None and not self.log_predictions:
            raise InvalidInput(
                "a timestamp column says when each row's prediction is logged: it needs log_predictions=True "
                "(CLI: --log)"
            )
        if self.timestamp_column == "":
            raise InvalidInput("the timestamp column needs a name")
        if self.key_columns is not None:  # a tuple: options stay as made, whoever holds them
            object.__setattr__(self, "key_columns", tuple(self.key_columns))

    @property
    def keys(self) -> list[str] | None:
        """The key columns as the manifest and the workers record them (a list, or None for the default)."""
        return None if self.key_columns is None else list(self.key_columns)

    @property
    def worker_count(self) -> int:
        """``workers``, or every core this process may run on."""
        return max(1, self.workers or available_cpus())
