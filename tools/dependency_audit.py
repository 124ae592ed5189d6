"""Audit the pinned dependencies (constraints.txt) for known vulnerabilities, with pip-audit over OSV data.

pip-audit asks an advisory service about each pin. Its default service (PyPI's JSON API) and OSV's API are
not reachable from every CI machine, and pip-audit then says "No known vulnerabilities found" while having
audited nothing (it exits 0 with every package skipped). This script never lets that pass:

- where ``api.osv.dev`` answers, pip-audit queries it (live data);
- where it does not, the committed snapshot ``tools/advisories.json`` (every OSV advisory of every pinned
  package, as of the date it records) is served on 127.0.0.1 by a small OSV-compatible endpoint and pip-audit
  queries that, and the report says so with the snapshot's date and age;
- a pinned package the snapshot never looked up, or a package pip-audit skipped, fails the audit;
- a vulnerable pin fails the audit, naming the package, its version, the advisory ids and the fixed versions.

Exit status: 0 clean, 1 vulnerable, 2 not audited (no data, a gap in the data, or data too old).

    python tools/dependency_audit.py check [-r constraints.txt] [--offline] [--max-age-days N]
    python tools/dependency_audit.py snapshot                      # where api.osv.dev answers
    python tools/dependency_audit.py snapshot --advisory-database DIR  # a clone of pypa/advisory-database
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

OSV_QUERY_URL = "https://api.osv.dev/v1/query"
HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "advisories.json"
CONSTRAINTS = HERE.parent / "constraints.txt"
REFRESH = "make audit-snapshot (where api.osv.dev is reachable)"
CLEAN, VULNERABLE, NOT_AUDITED = 0, 1, 2
#: Older snapshot data is announced on every run (``--max-age-days`` makes it a failure instead).
STALE_DAYS = 30

Advisory = dict[str, Any]


def pinned_versions(requirements: Path) -> dict[str, str]:
    """``{canonical name: version}`` for every ``name==version`` line (comments and markers ignored)."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[canonicalize_name(name.split("[", 1)[0])] = version.strip()
    return pins


# --- which versions an advisory affects (the OSV schema's "affected" ranges) -----------------------------


def affects(advisory: Advisory, package: str, version: str) -> bool:
    """Whether ``package==version`` is affected, read as OSV's API reads the record."""
    if advisory.get("withdrawn"):
        return False
    for affected in advisory.get("affected", []):
        named = affected.get("package", {})
        if named.get("ecosystem") != "PyPI" or canonicalize_name(named.get("name", "")) != package:
            continue
        if version in affected.get("versions", []):
            return True
        for span in affected.get("ranges", []):
            if span.get("type") == "ECOSYSTEM" and _in_range(span.get("events", []), version):
                return True
    return False


def _in_range(events: list[dict[str, str]], version: str) -> bool:
    """Walk the events in version order: introduced opens the range, fixed and last_affected close it."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    ordered: list[tuple[Version, int, str]] = []
    for event in events:
        for kind, value in event.items():
            try:
                at = Version("0") if value == "0" else Version(value)
            except InvalidVersion:
                continue
            # at one version: "fixed" closes before it, "introduced" opens at it, "last_affected" closes after
            ordered.append((at, {"fixed": 0, "introduced": 1, "last_affected": 2}.get(kind, 3), kind))
    affected = False
    for at, _, kind in sorted(ordered):
        if kind == "introduced" and wanted >= at:
            affected = True
        elif (kind == "fixed" and wanted >= at) or (kind == "last_affected" and wanted > at):
            affected = False
    return affected


# --- the snapshot and the endpoint that serves it to pip-audit --------------------------------------------


def load_snapshot(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def snapshot_age_days(snapshot: dict[str, Any], now: datetime | None = None) -> int:
    taken = datetime.fromisoformat(snapshot["taken"])
    return ((now or datetime.now(UTC)) - taken).days


@contextmanager
def serve_snapshot(snapshot: dict[str, Any]) -> Iterator[str]:
    """An OSV ``/v1/query`` endpoint on 127.0.0.1 answering from ``snapshot``; yields its URL."""
    advisories: dict[str, list[Advisory]] = snapshot["advisories"]

    class Query(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                query = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                package = canonicalize_name(query["package"]["name"])
                version = str(query["version"])
            except (ValueError, KeyError, TypeError):
                self._answer(400, {"code": 3, "message": "expected {package: {name}, version}"})
                return
            found = [item for item in advisories.get(package, []) if affects(item, package, version)]
            self._answer(200, {"vulns": found} if found else {})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Query)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def osv_unreachable(url: str = OSV_QUERY_URL, timeout: float = 5.0) -> str | None:
    """None when the OSV API answers a query; otherwise why not, in a few words."""
    query = json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "0"}).encode()
    request = urllib.request.Request(url, data=query, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            json.load(response)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    return None


# --- the audit ------------------------------------------------------------------------------------------


def run_pip_audit(requirements: Path, osv_url: str, ignore: list[str]) -> dict[str, Any]:
    """pip-audit over ``requirements`` against ``osv_url``; its JSON report."""
    with tempfile.TemporaryDirectory(prefix="shipyard-audit-") as scratch:
        output = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps", "--disable-pip"]
        command += ["--strict", "-s", "osv", "--osv-url", osv_url, "-f", "json", "-o", str(output)]
        command += ["--progress-spinner", "off", "--cache-dir", str(Path(scratch) / "cache"), "--desc", "on"]
        for advisory in ignore:
            command += ["--ignore-vuln", advisory]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if not output.is_file():
            raise AuditIncomplete(
                f"pip-audit did not finish (exit {finished.returncode}):\n{finished.stderr}"
            )
        report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return report


class AuditIncomplete(Exception):
    """The pins could not all be audited: a failure of the audit, never a pass."""


def findings(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(one line per vulnerable pin and advisory, one line per skipped package) from pip-audit's JSON."""
    vulnerable, skipped = [], []
    for dependency in report.get("dependencies", []):
        name, version = dependency["name"], dependency.get("version", "?")
        if dependency.get("skip_reason"):
            skipped.append(f"{name}: {dependency['skip_reason']}")
        for vulnerability in dependency.get("vulns", []):
            ids = ", ".join([vulnerability["id"], *vulnerability.get("aliases", [])])
            fixed = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed version yet"
            summary = (vulnerability.get("description") or "").strip()[:160]
            vulnerable.append(f"{name}=={version}: {ids} (fixed in {fixed}) {summary}")
    return vulnerable, skipped


def check(arguments: argparse.Namespace) -> int:
    """Audit the pins; print which advisory data was used and what it found; return the exit status."""
    requirements: Path = arguments.requirements
    pins = pinned_versions(requirements)
    why = "--offline" if arguments.offline else osv_unreachable(arguments.osv_url)
    if why is None:
        source, snapshot = f"the OSV API ({arguments.osv_url}), live", None
    elif not arguments.snapshot.is_file():
        print(f"NOT AUDITED: the OSV API is unreachable ({why}) and there is no snapshot; run {REFRESH}")
        return NOT_AUDITED
    else:
        snapshot = load_snapshot(arguments.snapshot)
        age = snapshot_age_days(snapshot)
        source = (
            f"the offline snapshot {arguments.snapshot.name} ({snapshot['source']}), "
            f"taken {snapshot['taken'][:10]}, {age} days old; the OSV API is unreachable ({why})"
        )
        missing = sorted(set(pins) - set(snapshot["packages"]))
        if missing:
            print(
                f"NOT AUDITED: {len(missing)} pinned package(s) are not in the snapshot: {', '.join(missing)}"
            )
            print(f"run {REFRESH}")
            return NOT_AUDITED
        if age > STALE_DAYS:
            print(
                f"WARNING: the advisory data is {age} days old: advisories published since "
                f"{snapshot['taken'][:10]} are not seen; run {REFRESH}"
            )
        if arguments.max_age_days is not None and age > arguments.max_age_days:
            print(
                f"NOT AUDITED: the snapshot is {age} days old (limit {arguments.max_age_days}); run {REFRESH}"
            )
            return NOT_AUDITED
    print(f"auditing {len(pins)} pinned packages of {requirements.name} against {source}")
    try:
        if snapshot is None:
            report = run_pip_audit(requirements, arguments.osv_url, arguments.ignore_vuln)
        else:
            with serve_snapshot(snapshot) as url:
                report = run_pip_audit(requirements, url, arguments.ignore_vuln)
    except AuditIncomplete as exc:
        print(f"NOT AUDITED: {exc}")
        return NOT_AUDITED
    vulnerable, skipped = findings(report)
    audited = {canonicalize_name(dependency["name"]) for dependency in report.get("dependencies", [])}
    skipped += [f"{name}: pinned but absent from pip-audit's report" for name in sorted(set(pins) - audited)]
    for line in vulnerable:
        print(f"VULNERABLE {line}")
    for line in skipped:
        print(f"NOT AUDITED {line}")
    if vulnerable:
        print(f"{len(vulnerable)} known vulnerabilit{'y' if len(vulnerable) == 1 else 'ies'} in the pins")
        return VULNERABLE
    if skipped:
        return NOT_AUDITED
    print(f"no known vulnerability in {len(pins)} pinned packages")
    return CLEAN


# --- refreshing the snapshot ----------------------------------------------------------------------------


def compact(advisory: Advisory) -> Advisory:
    """What pip-audit and the matcher read, without the long text, references and git ranges."""
    kept: Advisory = {
        key: advisory[key] for key in ("id", "aliases", "published", "withdrawn") if key in advisory
    }
    text = advisory.get("summary") or advisory.get("details") or ""
    kept["summary"] = " ".join(text.split())[:300]
    kept["affected"] = []
    for affected in advisory.get("affected", []):
        ranges = [span for span in affected.get("ranges", []) if span.get("type") == "ECOSYSTEM"]
        entry: Advisory = {"package": affected.get("package", {}), "ranges": ranges}
        if not ranges:  # only then is the explicit list needed to match
            entry["versions"] = affected.get("versions", [])
        kept["affected"].append(entry)
    return kept


def from_osv_api(packages: list[str]) -> dict[str, list[Advisory]]:
    """Every advisory OSV holds for each package, all versions (a pin moved later is still covered)."""
    found: dict[str, list[Advisory]] = {}
    for package in packages:
        found[package], token = [], None
        while True:
            query: dict[str, Any] = {"package": {"name": package, "ecosystem": "PyPI"}}
            if token:
                query["page_token"] = token
            request = urllib.request.Request(
                OSV_QUERY_URL, data=json.dumps(query).encode(), headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                page = json.load(response)
            found[package] += [compact(advisory) for advisory in page.get("vulns", [])]
            token = page.get("next_page_token")
            if not token:
                break
    return found


def from_advisory_database(root: Path, packages: list[str]) -> dict[str, list[Advisory]]:
    """The PYSEC advisories of a pypa/advisory-database checkout (fewer than OSV's API, which adds GHSA)."""
    import yaml

    found: dict[str, list[Advisory]] = {package: [] for package in packages}
    for path in sorted((root / "vulns").glob("*/*.yaml")):
        advisory = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = {
            canonicalize_name(a.get("package", {}).get("name", "")) for a in advisory.get("affected", [])
        }
        for package in sorted(names & found.keys()):
            found[package].append(json.loads(json.dumps(compact(advisory), default=str)))
    return found


def snapshot(arguments: argparse.Namespace) -> int:
    """Write the snapshot: every advisory of every pinned package, with where and when it was taken."""
    pins = pinned_versions(arguments.requirements)
    packages = sorted(pins)
    if arguments.advisory_database:
        root: Path = arguments.advisory_database
        commit = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %cI"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        source = f"pypa/advisory-database {commit[0][:12]}" if commit else "pypa/advisory-database"
        taken = commit[1] if commit else datetime.now(UTC).isoformat(timespec="seconds")
        advisories = from_advisory_database(root, packages)
    else:
        why = osv_unreachable()
        if why is not None:
            print(f"the OSV API is unreachable ({why}); no snapshot written")
            return NOT_AUDITED
        source, taken = "api.osv.dev", datetime.now(UTC).isoformat(timespec="seconds")
        advisories = from_osv_api(packages)
    document = {"source": source, "taken": taken, "packages": pins, "advisories": advisories}
    arguments.snapshot.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    total = sum(len(items) for items in advisories.values())
    print(
        f"{arguments.snapshot.name}: {total} advisories for {len(packages)} packages from {source}, {taken}"
    )
    return CLEAN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "snapshot"):
        command = commands.add_parser(name)
        command.add_argument("-r", "--requirements", type=Path, default=CONSTRAINTS)
        command.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    audit = commands.choices["check"]
    audit.add_argument("--osv-url", default=OSV_QUERY_URL, help="an OSV query endpoint (a mirror)")
    audit.add_argument("--offline", action="store_true", help="use the snapshot even if the OSV API answers")
    audit.add_argument("--max-age-days", type=int, default=None, help="refuse a snapshot older than this")
    audit.add_argument(
        "--ignore-vuln", action="append", default=[], metavar="ID", help="an accepted advisory"
    )
    commands.choices["snapshot"].add_argument("--advisory-database", type=Path, default=None)
    arguments = parser.parse_args(argv)
    return check(arguments) if arguments.command == "check" else snapshot(arguments)


if __name__ == "__main__":
    sys.exit(main())
