"""The figure catalogue names what the computations produce, without importing them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

from shipyard.monitoring.figures import ACCURACY, QUALITY
from shipyard.monitoring.windows import FeatureQuality
from shipyard.training.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS


def test_the_catalogue_repeats_the_names_of_its_sources_exactly() -> None:
    assert tuple(field.name for field in fields(FeatureQuality)) == QUALITY
    assert (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) == ACCURACY


def test_checking_alert_rules_loads_neither_the_trainer_nor_the_window_computations() -> None:
    probe = (
        "import sys, shipyard.alerts; "
        "print(sorted(m for m in sys.modules if m.startswith(('shipyard.training', 'sklearn', "
        "'shipyard.monitoring.windows'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_server_worker_loads_the_monitors_but_not_the_trainer() -> None:
    probe = (
        "import sys, shipyard.server.app; "
        "print(sorted(m for m in sys.modules if m.startswith(('shipyard.training.trainer', "
        "'sklearn.model_selection'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
