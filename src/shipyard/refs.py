"""Model references and names: the strings users type to point at a model version.

Three spellings are accepted everywhere: ``fraud@production`` (an alias), ``fraud/3`` (a version number),
and MLflow's ``models:/fraud/3`` or ``models:/fraud@production``. A bare ``fraud`` means the latest
version. Parsing is pure and strict, so a typo is an error here rather than a miss in the database.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from shipyard.errors import InvalidInput
from shipyard.numerals import is_whole_number, whole_number

MAX_NAME_LENGTH = 255
#: Alias that always means "the newest version"; it cannot be set by hand.
LATEST = "latest"
_MLFLOW_PREFIX = "models:/"
_FORBIDDEN = set('/\\@:?#*"<>|')


def validate_name(name: object, kind: str = "model name") -> str:
    """Return ``name`` when it is usable as a model or alias name; raise InvalidInput saying why not.

    Names end up in URLs, file names and shell commands, so separators, control characters and surrounding
    white space are refused rather than escaped.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"{kind} must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidInput(f"{kind} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{kind} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if name != name.strip():
        raise InvalidInput(f"{kind} {name.strip()!r} must not start or end with white space")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(f"{kind} must not contain control characters")
    bad = sorted(_FORBIDDEN.intersection(name))
    if bad:
        shown = " ".join(bad)
        raise InvalidInput(f"{kind} {name!r} must not contain any of: {shown}")
    if name in {".", ".."}:
        raise InvalidInput(f"{kind} must not be {name!r}")
    return name


def validate_alias(alias: object) -> str:
    """Like ``validate_name`` for aliases, which additionally must not look like a version number."""
    name = validate_name(alias, "alias")
    if is_whole_number(name) or (name[0] in "vV" and is_whole_number(name[1:])):
        raise InvalidInput(f"alias {name!r} looks like a version number; pick a word such as 'production'")
    if name == LATEST:
        raise InvalidInput(f"alias {LATEST!r} is reserved: it always means the newest version")
    return name


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a model name plus either a version number, an alias, or neither (latest)."""

    model: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse ``fraud``, ``fraud/3``, ``fraud@prod``, ``models:/fraud/3`` or ``models:/fraud@prod``."""
        if not isinstance(text, str):
            raise InvalidInput(f"a model reference must be a string, got {type(text).__name__}")
        raw = text.strip()
        if raw.startswith(_MLFLOW_PREFIX):
            raw = raw[len(_MLFLOW_PREFIX) :]
        if not raw:
            raise InvalidInput("empty model reference; use 'name', 'name/3' or 'name@alias'")
        if "@" in raw:
            model, _, alias = raw.partition("@")
            validate_name(model)
            if alias == LATEST:
                return cls(model=model)
            return cls(model=model, alias=validate_name(alias, "alias"))
        if "/" in raw:
            model, _, number = raw.partition("/")
            validate_name(model)
            version = whole_number(number)
            if version is None or version < 1:
                raise InvalidInput(
                    f"bad version {number[:40]!r} in reference {text[:80]!r}; "
                    "versions are whole numbers from 1"
                )
            return cls(model=model, version=version)
        return cls(model=validate_name(raw))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.model}/{self.version}"
        if self.alias is not None:
            return f"{self.model}@{self.alias}"
        return self.model
