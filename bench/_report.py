"""Shared by every benchmark: timing statistics, a printed table, and a section in docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_HEADER = """# Benchmarks

Every figure here is written by a script under `bench/` (run them all with `make bench`). Each benchmark
measures shipyard and its baseline in the same run on the same machine and reports the ratio, so the
numbers compare fairly even though absolute timings depend on the machine.
"""


@dataclass(frozen=True)
class Timing:
    """Latencies of ``count`` operations, in seconds."""

    label: str
    samples: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000

    @property
    def ops_per_second(self) -> float:
        return len(self.samples) / sum(self.samples)


def measure(label: str, operation: Callable[[int], object], count: int) -> Timing:
    """Run ``operation(i)`` for i in range(count), timing each call."""
    samples = []
    for index in range(count):
        started = time.perf_counter()
        operation(index)
        samples.append(time.perf_counter() - started)
    return Timing(label, tuple(samples))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"{start}\n## {title}\n\n_Last run {stamp} on {machine()}._\n\n{body.strip()}\n{end}"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else _HEADER
    if start in text and end in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, encoding="utf-8")


def verdict(met: bool) -> str:
    """An aim's result as the tables give it."""
    return "PASS" if met else "MISS"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def compile_bytecode() -> None:
    """Compile shipyard's modules to bytecode, as ``pip install`` does for an installed package: a checkout
    run with PYTHONDONTWRITEBYTECODE set (as some machines and containers do) would otherwise compile every
    module again in every fresh process, and a start-up measured that way is not what a user sees."""
    import compileall

    import shipyard

    compileall.compile_dir(str(Path(shipyard.__file__).parent), quiet=1)


def run_process(
    command: list[str], env: dict[str, str] | None, timeout: float | None
) -> tuple[float, float, float, str | None]:
    """Wall seconds, CPU seconds (user + system, the kernel's accounting of that one process) and peak MiB
    (its high-water mark, VmHWM, read every 20 ms: ru_maxrss would start from this big parent's size at the
    fork) of ``command``, and its standard output, or None when it was stopped at ``timeout``."""
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.DEVNULL, text=True)
        peak = [0.0]
        sampler = threading.Thread(target=_sample_peak, args=(process.pid, peak), daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, process.kill) if timeout else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if timer is not None:
            timer.cancel()
        sampler.join()
        cpu = usage.ru_utime + usage.ru_stime
        if process.returncode == -signal.SIGKILL and timeout is not None:
            return seconds, cpu, peak[0], None
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
        output.seek(0)
        return seconds, cpu, peak[0], output.read()


def _sample_peak(pid: int, peak: list[float]) -> None:
    """Keep ``peak[0]`` at the process's VmHWM in MiB until it ends."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            lines = status.read_text().splitlines()
        except OSError:
            return
        found = [line for line in lines if line.startswith("VmHWM:")]
        if not found:  # exited, not reaped yet
            return
        peak[0] = max(peak[0], int(found[0].split()[1]) / 1024)
        time.sleep(0.02)
