"""Settings: read once from ``shipyard.toml``, ``SHIPYARD_*`` variables and explicit arguments.

Precedence, highest first: arguments given in code or on the command line, environment variables, the
workspace's ``shipyard.toml``, built-in defaults. The result is one immutable ``Settings`` object that is
passed down; nothing deeper in shipyard reads the environment. ``Settings.sources`` remembers where each
value came from, so ``shipyard config`` can show it.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.errors import ConfigurationError

CONFIG_FILE = "shipyard.toml"
DEFAULT_HOME = ".shipyard"
ENV_PREFIX = "SHIPYARD_"


class _SettingsModel(BaseModel):
    """The validated shape of the settings (pydantic at the edge; a dataclass inside)."""

    model_config = ConfigDict(extra="forbid")

    registry_url: str = Field("sqlite:///registry.db", description="metadata database (sqlite or postgresql)")
    artifacts_url: str = Field("artifacts", description="artifact store root (a path, file:// or s3://)")
    actor: str = Field("", description="name recorded in the audit trail (default: the OS user)")
    busy_timeout: float = Field(30.0, gt=0, description="seconds to wait for a locked SQLite database")
    gates_file: str = Field(
        "", description="TOML file with [gates.<model>.<alias>] policies (default: this file)"
    )
    alerts_file: str = Field(
        "", description="TOML file with the [alerts] rules and channels (default: this file)"
    )
    ray_address: str = Field(
        "",
        description="Ray cluster for 'shipyard score --engine ray' and training on Ray (empty: a local Ray "
        "instance started for the job)",
    )
    log_url: str = Field("logs", description="prediction log root (a path, file:// or s3://)")
    log_flush_seconds: float = Field(
        1.0, gt=0, le=60, description="how often servers write buffered predictions (what a crash can lose)"
    )
    log_retention_days: float = Field(
        30.0, ge=0, description="days of prediction log kept (0 keeps everything)"
    )
    log_sample_rate: float = Field(
        1.0, gt=0, le=1, description="share of requests logged (1 logs every one; below 1, counts say so)"
    )
    log_usage_seconds: float = Field(
        5.0, gt=0, le=3600, description="how often servers log their processes' CPU time and memory"
    )
    s3_endpoint_url: str = Field(
        "", description="S3-compatible endpoint of s3:// URLs (empty: $AWS_ENDPOINT_URL, else AWS itself)"
    )
    s3_region: str = Field("", description="region of s3:// buckets (empty: $AWS_DEFAULT_REGION or ~/.aws)")
    s3_access_key_id: str = Field(
        "", description="access key of s3:// URLs (empty: the AWS variables, profile or instance role)"
    )
    s3_secret_access_key: str = Field(
        "", description="its secret; set it as $SHIPYARD_S3_SECRET_ACCESS_KEY rather than in a file"
    )
    s3_connect_timeout: float = Field(3.0, gt=0, le=300, description="seconds to open a connection to S3")
    s3_read_timeout: float = Field(
        10.0, gt=0, le=3600, description="seconds an S3 request may wait for an answer before it is retried"
    )
    s3_max_attempts: int = Field(
        3, ge=1, le=10, description="tries per S3 request before shipyard reports the store unavailable"
    )


FIELDS = tuple(_SettingsModel.model_fields)
_HIDDEN = "(set)"  # what `shipyard config` shows for a secret


@dataclass(frozen=True)
class ObjectStoreSettings:
    """How ``s3://`` URLs are reached: endpoint, region, credentials and how long to keep trying.

    Empty values leave the choice to botocore, which reads the standard AWS variables and files. The two
    ``*_source`` strings say where the endpoint and credentials come from, for messages; never the secret.
    """

    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    endpoint_source: str = ""
    credentials_source: str = ""


class StorageURL(str):
    """A storage URL (``s3://bucket/prefix``, ``file:///…``) carrying the object-store settings to open it.

    It is the URL string itself, so it goes wherever a URL goes (``PredictionLog(settings.log_url)``, a batch
    plan) and every store opened from a workspace's settings reaches its bucket with the workspace's endpoint
    and credentials, without each caller passing them along.
    """

    object_store: ObjectStoreSettings

    def __new__(cls, url: str, object_store: ObjectStoreSettings) -> StorageURL:
        made = super().__new__(cls, url)
        made.object_store = object_store
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (StorageURL, (str(self), self.object_store))


@dataclass(frozen=True)
class Settings:
    """Effective settings of one workspace. Relative paths are already resolved against ``home``."""

    home: Path
    registry_url: str
    artifacts_url: str
    actor: str
    busy_timeout: float
    gates_file: str = ""
    alerts_file: str = ""
    ray_address: str = ""
    log_url: str = ""
    log_flush_seconds: float = 1.0
    log_retention_days: float = 30.0
    log_sample_rate: float = 1.0
    log_usage_seconds: float = 5.0
    object_store: ObjectStoreSettings = field(default_factory=ObjectStoreSettings)
    sources: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "registry_url": self.registry_url,
            "artifacts_url": self.artifacts_url,
            "actor": self.actor,
            "busy_timeout": self.busy_timeout,
            "gates_file": self.gates_file,
            "alerts_file": self.alerts_file,
            "ray_address": self.ray_address,
            "log_url": self.log_url,
            "log_flush_seconds": self.log_flush_seconds,
            "log_retention_days": self.log_retention_days,
            "log_sample_rate": self.log_sample_rate,
            "log_usage_seconds": self.log_usage_seconds,
            "s3_endpoint_url": self.object_store.endpoint_url,
            "s3_region": self.object_store.region,
            "s3_access_key_id": self.object_store.access_key_id,
            "s3_secret_access_key": _HIDDEN if self.object_store.secret_access_key else "",
            "s3_connect_timeout": self.object_store.connect_timeout,
            "s3_read_timeout": self.object_store.read_timeout,
            "s3_max_attempts": self.object_store.max_attempts,
        }


def find_home(home: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The workspace directory: the argument, else ``SHIPYARD_HOME``, else the nearest ``.shipyard`` found in
    the current directory or a parent, else ``./.shipyard``."""
    env = os.environ if environ is None else environ
    if home is not None:
        return Path(home).expanduser().resolve()
    if env.get("SHIPYARD_HOME"):
        return Path(env["SHIPYARD_HOME"]).expanduser().resolve()
    cwd = Path.cwd()
    for directory in (cwd, *cwd.parents):
        if (directory / DEFAULT_HOME / CONFIG_FILE).is_file():
            return directory / DEFAULT_HOME
    return cwd / DEFAULT_HOME


def load_settings(
    home: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read the effective settings of the workspace at ``home`` (see ``find_home``)."""
    env = os.environ if environ is None else environ
    root = find_home(home, env)
    values: dict[str, Any] = {}
    sources: dict[str, str] = dict.fromkeys(FIELDS, "default")

    config_file = root / CONFIG_FILE
    if config_file.is_file():
        try:
            document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{config_file} is not valid TOML: {exc}") from None
        section = document.get("shipyard", {})
        if not isinstance(section, dict):
            raise ConfigurationError(f"{config_file}: [shipyard] must be a table of settings")
        unknown = sorted(set(section) - set(FIELDS))
        if unknown:
            raise ConfigurationError(
                f"{config_file}: unknown setting(s) {', '.join(unknown)} in [shipyard]; "
                f"known: {', '.join(FIELDS)}"
            )
        values.update(section)
        sources.update(dict.fromkeys(section, str(config_file)))

    for name in FIELDS:
        variable = ENV_PREFIX + name.upper()
        if env.get(variable, "") != "":  # an empty variable (a CI secret that is not set) means "unset"
            values[name] = env[variable]
            sources[name] = f"${variable}"

    for name, value in overrides.items():
        if name not in FIELDS:
            raise ConfigurationError(f"unknown setting {name!r}; known: {', '.join(FIELDS)}")
        if value is not None:
            values[name] = value
            sources[name] = "argument"

    try:
        model = _SettingsModel(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from None

    object_store = _object_store(model, sources, env)
    return Settings(
        home=root,
        registry_url=_resolve_database_url(model.registry_url, root),
        artifacts_url=StorageURL(_resolve_storage_url(model.artifacts_url, root), object_store),
        actor=model.actor or _os_user(),
        busy_timeout=model.busy_timeout,
        gates_file=str(_resolve_path(model.gates_file, root)) if model.gates_file else "",
        alerts_file=str(_resolve_path(model.alerts_file, root)) if model.alerts_file else "",
        ray_address=model.ray_address,
        log_url=StorageURL(_resolve_storage_url(model.log_url, root), object_store),
        log_flush_seconds=model.log_flush_seconds,
        log_retention_days=model.log_retention_days,
        log_sample_rate=model.log_sample_rate,
        log_usage_seconds=model.log_usage_seconds,
        object_store=object_store,
        sources=sources,
    )


def _object_store(
    model: _SettingsModel, sources: Mapping[str, str], env: Mapping[str, str]
) -> ObjectStoreSettings:
    """The s3_* settings, and where the endpoint and the credentials really come from (for messages)."""
    if bool(model.s3_access_key_id) != bool(model.s3_secret_access_key):
        given, missing = (
            ("s3_access_key_id", "s3_secret_access_key")
            if model.s3_access_key_id
            else ("s3_secret_access_key", "s3_access_key_id")
        )
        raise ConfigurationError(
            f"{given} is set (from {sources[given]}) but {missing} is not: set both "
            f"(${ENV_PREFIX}{missing.upper()}), or neither to use the AWS variables"
        )
    if model.s3_endpoint_url:
        endpoint = f"s3_endpoint_url from {sources['s3_endpoint_url']}"
    else:
        variable = next((name for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") if env.get(name)), "")
        endpoint = f"${variable}" if variable else ""
    if model.s3_access_key_id:
        credentials = f"s3_access_key_id and s3_secret_access_key from {sources['s3_access_key_id']}"
    elif env.get("AWS_ACCESS_KEY_ID"):
        credentials = "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY"
    elif env.get("AWS_PROFILE"):
        credentials = f"the AWS profile named by $AWS_PROFILE ({env['AWS_PROFILE']!r})"
    else:
        credentials = ""  # botocore's default chain: shared files, an instance role
    return ObjectStoreSettings(
        endpoint_url=model.s3_endpoint_url,
        region=model.s3_region,
        access_key_id=model.s3_access_key_id,
        secret_access_key=model.s3_secret_access_key,
        connect_timeout=model.s3_connect_timeout,
        read_timeout=model.s3_read_timeout,
        max_attempts=model.s3_max_attempts,
        endpoint_source=endpoint,
        credentials_source=credentials,
    )


def _resolve_database_url(url: str, root: Path) -> str:
    """Make ``sqlite:///relative.db`` relative to the workspace, not to wherever the command runs."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :]
        if path and path != ":memory:" and not path.startswith("/"):
            return prefix + str(root / path)
    return url


def _resolve_storage_url(url: str, root: Path) -> str:
    if "://" in url:
        if url.startswith("file://") and not url.startswith("file:///"):
            return "file://" + str(root / url[len("file://") :])
        return url
    path = Path(url).expanduser()
    return "file://" + str(path if path.is_absolute() else root / path)


def _resolve_path(value: str, root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a minimal container
        return f"uid:{os.getuid()}"


def read_rollout_plan(
    settings: Settings, model: str, plan_file: str | os.PathLike[str] | None = None
) -> tuple[dict[str, Any], str]:
    """The keys of ``model``'s declared rollout plan and where they were read (for messages).

    Without ``plan_file``: the ``[rollouts.<model>]`` table of the workspace's ``shipyard.toml`` (no keys
    when there is none). With it: that file's ``[rollouts.<model>]`` table if it has a ``[rollouts]`` table,
    else its top-level keys, which are then the plan itself. The keys are validated by the rollout plan.
    """
    path = Path(plan_file) if plan_file is not None else settings.home / CONFIG_FILE
    if not path.is_file():
        if plan_file is not None:
            raise ConfigurationError(f"rollout plan file {str(path)!r} does not exist")
        return {}, f"[rollouts.{model}] in {CONFIG_FILE}"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    if plan_file is not None and "rollouts" not in document:
        return document, str(path)
    rollouts = document.get("rollouts", {})
    if not isinstance(rollouts, dict) or not all(isinstance(table, dict) for table in rollouts.values()):
        raise ConfigurationError(f"{path}: [rollouts] holds one table per model, like [rollouts.fraud]")
    where = f"[rollouts.{model}] in {path.name}"
    if model not in rollouts and plan_file is not None:
        declared = ", ".join(sorted(rollouts)) or "none"
        raise ConfigurationError(f"{path} has no [rollouts.{model}] table (plans for: {declared})")
    return dict(rollouts.get(model, {})), where
