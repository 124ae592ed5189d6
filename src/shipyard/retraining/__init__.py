"""Retraining that closes the loop: a per-model policy says what to train on which fresh data, when
(a schedule, an alert, enough new labels), under which guards, and what follows (gate, rollout)."""

from shipyard.retraining.policy import (
    DatasetSource,
    Guards,
    LogSource,
    RetrainPolicy,
    SqlSource,
    TrainingPlace,
    Triggers,
    load_policies,
    load_policy,
    policy_from_dict,
)

__all__ = [
    "DatasetSource",
    "Guards",
    "LogSource",
    "RetrainPolicy",
    "SqlSource",
    "TrainingPlace",
    "Triggers",
    "load_policies",
    "load_policy",
    "policy_from_dict",
]
