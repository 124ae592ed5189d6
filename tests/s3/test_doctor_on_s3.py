"""``shipyard doctor`` on a workspace whose storage is an S3-compatible store: an object store has no
folders, so a fresh prefix (nothing written yet) is healthy, and a missing bucket is the problem it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.config import load_settings
from shipyard.registry.doctor import DoctorOptions, examine_workspace


def test_a_fresh_prefix_is_healthy_and_a_missing_bucket_is_named(
    s3_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Registry(home=s3_home):
        pass  # the metadata database, nothing stored yet
    report = examine_workspace(load_settings(s3_home), DoctorOptions(load=False))
    assert report.ok, [check.to_dict() for check in report.problems]

    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", "s3://no-such-bucket/shipyard")
    report = examine_workspace(load_settings(s3_home), DoctorOptions(load=False))
    (problem,) = report.problems
    assert problem.subject == "artifact store" and "no-such-bucket" in problem.detail
