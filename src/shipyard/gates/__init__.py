"""Promotion gates: no version reaches an alias without passing the checks its policy declares."""

from shipyard.gates.policy import GatePolicy, load_policy
from shipyard.gates.report import CheckResult, GateReport
from shipyard.gates.runner import check_gate, gate_runs, promote

__all__ = ["CheckResult", "GatePolicy", "GateReport", "check_gate", "gate_runs", "load_policy", "promote"]
