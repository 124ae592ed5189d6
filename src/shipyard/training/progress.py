"""Progress of a training run: a Rich progress bar over the folds and the final fit, or nothing.

The trainer only calls ``step``; what a step looks like is decided here, so notebooks, terminals and tests
(which pass ``progress=False``) all run the same training code.
"""

from __future__ import annotations

from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class TrainingProgress(Protocol):
    def __enter__(self) -> TrainingProgress: ...
    def __exit__(self, *exc: object) -> None: ...
    def step(self, description: str) -> None: ...


class SilentProgress:
    def __enter__(self) -> SilentProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def step(self, description: str) -> None:
        return None


class BarProgress:
    """One bar: each fold, then the final fit and evaluation."""

    def __init__(self, title: str, total: int) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self._title = title
        self._task = self._progress.add_task(title, total=total)

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def step(self, description: str) -> None:
        self._progress.update(self._task, advance=1, description=f"{self._title}: {description}")
