"""``shipyard serve --workers N`` starts its fork server before the command line is imported, and only it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shipyard.cli import head_start
from shipyard.server import fork_server


@pytest.mark.parametrize(
    ("argv", "started"),
    [
        (["serve", "fraud@production", "--workers", "2"], [("local", 2)]),
        (["--home", "ws", "--debug", "serve", "fraud", "--workers=3", "--engine", "ray"], [("ray", 3)]),
        (["--home=ws", "serve", "fraud", "--workers", "2", "--workers", "1"], [("local", 1)]),  # the last
        (["serve", "fraud"], [("local", 1)]),
        (["serve", "fraud", "--workers", "2", "--help"], []),
        (["monitor", "run", "fraud", "--workers", "2"], []),
        (["--unknown", "serve", "fraud", "--workers", "2"], []),
        (["serve", "fraud", "--workers", "two"], []),
        (["serve", "fraud", "--workers"], []),
        ([], []),
    ],
)
def test_the_head_start_reads_serve_and_its_workers_as_typer_would(
    argv: list[str], started: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        fork_server, "start_fork_server", lambda engine, workers: calls.append((engine, workers))
    )
    head_start.start_fork_server_early(argv)
    assert calls == started


def test_the_fork_server_is_running_before_the_command_line_is_imported() -> None:
    script = (
        "import sys, psutil\n"
        "from shipyard.cli.head_start import start_fork_server_early\n"
        "start_fork_server_early(['serve', 'fraud', '--workers', '2'])\n"
        "children = [' '.join(child.cmdline()) for child in psutil.Process().children()]\n"
        "print(sum('multiprocessing.forkserver' in line for line in children), 'typer' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert ran.stdout.split() == ["1", "False"]
