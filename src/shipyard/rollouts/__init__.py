"""Rollouts: move an alias from the version it holds to a candidate gradually (canary), in the dark
(shadow), as a fixed split (A/B) or all at once with a warm fallback (blue-green), judged by analysis
between steps. ``plan`` declares a rollout, ``service`` starts and steers it, ``controller`` advances it
step by step with the prediction log as the judge; the plan and its state live
in the metadata database, so every server follows it as it follows aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from shipyard.rollouts.analysis import (
        Analysis,
        ArmFigures,
        CheckResult,
        PairFigures,
        analyse,
        should_abort,
    )
    from shipyard.rollouts.controller import Transition, advance
    from shipyard.rollouts.plan import DEFAULT_CHECKS, DEFAULT_STEPS, Check, RolloutPlan, RoutingKey, Strategy
    from shipyard.rollouts.routing import Split, choose_arm, key_value
    from shipyard.rollouts.service import (
        Rollout,
        abort,
        active_split,
        get,
        history,
        pause,
        promote,
        reconcile,
        resume,
        start,
        status,
    )

__all__ = [
    "DEFAULT_CHECKS",
    "DEFAULT_STEPS",
    "Analysis",
    "ArmFigures",
    "Check",
    "CheckResult",
    "PairFigures",
    "Rollout",
    "RolloutPlan",
    "RoutingKey",
    "Split",
    "Strategy",
    "Transition",
    "abort",
    "active_split",
    "advance",
    "analyse",
    "choose_arm",
    "get",
    "history",
    "key_value",
    "pause",
    "promote",
    "reconcile",
    "resume",
    "should_abort",
    "start",
    "status",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "shipyard.rollouts.analysis": (
                "Analysis",
                "ArmFigures",
                "CheckResult",
                "PairFigures",
                "analyse",
                "should_abort",
            ),
            "shipyard.rollouts.controller": ("Transition", "advance"),
            "shipyard.rollouts.plan": (
                "DEFAULT_CHECKS",
                "DEFAULT_STEPS",
                "Check",
                "RolloutPlan",
                "RoutingKey",
                "Strategy",
            ),
            "shipyard.rollouts.routing": ("Split", "choose_arm", "key_value"),
            "shipyard.rollouts.service": (
                "Rollout",
                "abort",
                "active_split",
                "get",
                "history",
                "pause",
                "promote",
                "reconcile",
                "resume",
                "start",
                "status",
            ),
        },
    )
