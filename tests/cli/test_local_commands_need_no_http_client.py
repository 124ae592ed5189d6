"""A command on a workspace never imports the control plane's HTTP client: only ``SHIPYARD_URL`` needs it
(an image built without the dev extra once failed ``shipyard promote`` on a missing httpx)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from shipyard.cli import main
code = main(["models", "list"])
assert code == 0, code
loaded = sorted(name for name in sys.modules if name == "httpx" or name.startswith("shipyard.client"))
print(",".join(loaded) or "none")
"""


def test_models_list_on_a_workspace_loads_no_http_client(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("SHIPYARD_URL", "SHIPYARD_TOKEN")}
    env["SHIPYARD_HOME"] = str(tmp_path / "ws")
    ran = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "none"
