"""Which models declare a retraining policy (``[retraining.<model>]`` in shipyard.toml), as a retrain action
needs to know: with a policy the action runs it (train, gate, roll out), without one it can only train a
spec and register the result.

Only whether a policy is declared is read here, from the file itself: ``shipyard.retraining`` notifies
through ``alerts``, so alerts cannot import it, and the policy's content is checked by the run it starts.
"""

from __future__ import annotations

import tomllib

from shipyard.config import CONFIG_FILE, Settings
from shipyard.errors import ConfigurationError


def declared_policies(settings: Settings) -> list[str]:
    """The models with a ``[retraining.<model>]`` table in the workspace's shipyard.toml, in file order."""
    path = settings.home / CONFIG_FILE
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path.name} is not valid TOML: {exc}") from None
    section = document.get("retraining")
    return list(section) if isinstance(section, dict) else []


def retrain_fixes(model: str) -> str:
    """The two ways to give a retrain action something to run, for an error message."""
    return (
        f"add a [retraining.{model}] policy to {CONFIG_FILE} (a run trains, gates and rolls out the new "
        "version), or give the action spec = 'train.toml' (the new version is only registered)"
    )
