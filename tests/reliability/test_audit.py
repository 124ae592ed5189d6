"""The dependency audit (tools/dependency_audit.py, ``make audit``): a vulnerable pin fails it, named with its
advisory; a pin it has no data for fails it too; it says which advisory data it used. (The audit of the
real pins is ``make audit``, part of ``make test``.)

Each test runs the script as CI does, against the committed advisory snapshot (``--offline``), so pip-audit
queries the snapshot's OSV endpoint on 127.0.0.1 and nothing here needs a network.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "dependency_audit.py"


def _audit(*arguments: str, offline: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "check", *(["--offline"] if offline else []), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dependency_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dependency_audit", module)
    spec.loader.exec_module(module)
    return module


def test_a_vulnerable_pin_fails_the_audit_naming_the_package_and_advisory(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("requests==2.19.0\nidna==3.10\n")
    finished = _audit("-r", str(pins))
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "offline snapshot" in finished.stdout and "days old" in finished.stdout
    vulnerable = [line for line in finished.stdout.splitlines() if line.startswith("VULNERABLE")]
    assert any("requests==2.19.0" in line and "PYSEC-2018-28" in line for line in vulnerable), finished.stdout
    assert any("CVE-2018-18074" in line and "fixed in 2.20.0" in line for line in vulnerable)
    assert not any("idna" in line for line in vulnerable)


def test_a_reachable_osv_service_is_used_live_and_an_unreachable_one_says_so(tmp_path: Path) -> None:
    audit = _module()
    pins = tmp_path / "constraints.txt"
    pins.write_text("requests==2.19.0\n")
    snapshot = audit.load_snapshot(audit.SNAPSHOT)
    with audit.serve_snapshot(snapshot) as url:  # stands in for api.osv.dev: same API, same records
        live = _audit("-r", str(pins), "--osv-url", url, offline=False)
    unreachable = _audit("-r", str(pins), "--osv-url", url, offline=False)  # now closed
    assert live.returncode == 1 and f"against the OSV API ({url}), live" in live.stdout, live.stdout
    assert "PYSEC-2018-28" in live.stdout
    assert unreachable.returncode == 1, unreachable.stdout + unreachable.stderr
    assert "offline snapshot" in unreachable.stdout and "the OSV API is unreachable" in unreachable.stdout


def test_a_pin_missing_from_the_advisory_data_is_not_audited_rather_than_passed(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("requests==2.34.2\nnot-a-shipyard-dependency==1.0\n")
    finished = _audit("-r", str(pins))
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert "not-a-shipyard-dependency" in finished.stdout and "make audit-snapshot" in finished.stdout


def test_a_snapshot_older_than_the_limit_is_refused(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("requests==2.34.2\n")
    finished = _audit("-r", str(pins), "--max-age-days", "0")
    assert finished.returncode == 2 and "days old (limit 0)" in finished.stdout, finished.stdout


@pytest.mark.parametrize(
    ("events", "version", "affected"),
    [
        ([{"introduced": "0"}, {"fixed": "2.20.0"}], "2.19.0", True),
        ([{"introduced": "0"}, {"fixed": "2.20.0"}], "2.20.0", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.1"}], "1.5", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.1"}], "2.0.5", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4.1", False),
        ([{"introduced": "1.0"}], "0.9", False),
        ([{"introduced": "1.0"}], "not a version", False),
    ],
)
def test_osv_ranges_are_read_as_the_osv_api_reads_them(
    events: list[dict[str, str]], version: str, affected: bool
) -> None:
    advisory = {
        "id": "TEST-1",
        "affected": [
            {
                "package": {"name": "Some_Package", "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }
    assert _module().affects(advisory, "some-package", version) is affected
