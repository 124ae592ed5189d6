"""The image's HEALTHCHECK: probes whichever shipyard role runs as the container's process 1.

One image runs three roles (deploy/docker/entrypoint.sh), so the check reads process 1's command line:
``shipyard serve`` is healthy when ``/health/ready`` answers 200 (every model loaded and warm),
``shipyard server`` when ``/health`` does, and ``shipyard scheduler``, which serves no HTTP, while it runs
(it is process 1, so this check running at all says so). Exit 0 healthy, 1 not, as Docker reads it.
Standard library only: it runs every few seconds and must start fast.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

#: Each HTTP role's probe path and default port. tests/deploy checks these against the routes and the
#: defaults of shipyard's own commands, so they cannot drift apart.
PROBES = {"serve": ("/health/ready", 8080), "server": ("/health", 5000)}
ROLES = ("serve", "server", "scheduler")


def probe_url(argv: list[str]) -> str | None:
    """The URL to probe for a shipyard command line (``python shipyard serve --port 9000 m``), or None
    when the role serves no HTTP. Raises ValueError when the command line is not a shipyard role."""
    role_at = next((i for i, arg in enumerate(argv) if arg in ROLES), None)
    if role_at is None:
        raise ValueError(f"process is not a shipyard role ({', '.join(ROLES)}): {' '.join(argv)!r}")
    role = argv[role_at]
    if role not in PROBES:
        return None
    path, port = PROBES[role]
    options = argv[role_at + 1 :]
    for i, option in enumerate(options):
        if option in ("--port", "-p") and i + 1 < len(options):
            port = int(options[i + 1])
        elif option.startswith("--port="):
            port = int(option.removeprefix("--port="))
    return f"http://127.0.0.1:{port}{path}"


def command_line(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, default=1, help="the shipyard process to probe (default: 1)")
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds to wait for the answer")
    options = parser.parse_args(args)
    try:
        url = probe_url(command_line(options.pid))
    except (OSError, ValueError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    if url is None:
        print("healthy: the scheduler is running")
        return 0
    try:
        with urllib.request.urlopen(url, timeout=options.timeout) as answer:
            print(f"healthy: {url} answered {answer.status}")
            return 0
    except urllib.error.HTTPError as error:  # 503 from /health/ready: a model is not loaded or warm yet
        print(f"unhealthy: {url} answered {error.code}: {error.read(500).decode('utf-8', 'replace')}")
    except (OSError, ValueError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
