"""What a version records besides its model: metrics, params, tags, contract, profile, training, lineage.

``VersionMetadata`` is the one parameter object that travels from a training run or a CLI command to
``Registry.register``; cleaning it here means every caller gets the same checks and the same messages,
before anything is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput

_MAX_TAG_KEY = 255
_MAX_TAG_VALUE = 5000


@dataclass(frozen=True)
class VersionMetadata:
    """Everything recorded with a version beyond its model and description.

    ``input_schema`` is the data contract (``Contract.to_dict()``), ``profile`` the reference profile,
    ``training`` the spec and report of the run that made it, ``datasets`` maps a role ("train") to the
    sha256 of the data the model saw, ``seed`` the random seed, and ``code_dir`` the git checkout whose
    commit is recorded (default: the working directory). ``lineage`` is the record ``code_dir`` would give,
    captured on another machine: a remote client's, whose checkout the server cannot see.
    """

    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)
    input_schema: Mapping[str, Any] | None = None
    profile: Mapping[str, Any] | None = None
    training: Mapping[str, Any] | None = None
    datasets: Mapping[str, str] = field(default_factory=dict)
    seed: int | None = None
    code_dir: str | Path | None = None
    lineage: Mapping[str, Any] | None = None

    def cleaned(self) -> VersionMetadata:
        """A copy in the stored form (finite float metrics, JSON params, text tags); raises InvalidInput
        naming the first bad entry."""
        metrics, params, tags = clean_metrics(self.metrics), clean_params(self.params), clean_tags(self.tags)
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise InvalidInput(f"seed must be an integer, got {type(self.seed).__name__}")
        return VersionMetadata(
            metrics=metrics,
            params=params,
            tags=tags,
            input_schema=_plain_dict(self.input_schema),
            profile=_plain_dict(self.profile),
            training=_plain_dict(self.training),
            datasets=dict(self.datasets or {}),
            seed=self.seed,
            code_dir=self.code_dir,
            lineage=_plain_dict(self.lineage),
        )


def clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    clean: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        _check_key(key, "metric")
        numeric = isinstance(value, int | float) or hasattr(value, "__float__")
        if isinstance(value, bool) or not numeric:
            raise InvalidInput(f"metric {key!r} must be a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"metric {key!r} is {number}; metrics must be finite numbers")
        clean[key] = number
    return clean


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as JSON values; anything else (classes, NaN, arrays) is stored as its string form."""
    clean: dict[str, Any] = {}
    for key, value in (params or {}).items():
        _check_key(key, "param")
        plain = value is None or isinstance(value, bool | int | str)
        if plain or (isinstance(value, float) and math.isfinite(value)):
            clean[key] = value
        else:
            clean[key] = str(value)
    return clean


def clean_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in (tags or {}).items():
        _check_key(key, "tag")
        text = str(value)
        if len(text) > _MAX_TAG_VALUE:
            raise InvalidInput(f"tag {key!r} is {len(text)} characters long; the limit is {_MAX_TAG_VALUE}")
        clean[key] = text
    return clean


def _check_key(key: object, kind: str) -> None:
    if not isinstance(key, str) or not key or len(key) > _MAX_TAG_KEY:
        raise InvalidInput(f"{kind} names must be non-empty strings of at most {_MAX_TAG_KEY} characters")


def _plain_dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value is not None else None
