"""The Kubernetes manifests are valid for the Kubernetes versions we support, offline, document by document,
and they agree with the code: probes on routes the server has, container ports on the commands' default
ports, environment variables that shipyard reads. Both overlays are rendered as ``kubectl apply -k`` would
render them (``kustomize``, or ``kubectl kustomize``) and checked whole.
"""

from __future__ import annotations

import base64
import inspect
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from starlette.routing import Route

from shipyard.cli.control import server_command
from shipyard.cli.serve import serve_command
from shipyard.config import ENV_PREFIX, FIELDS, find_home, load_settings
from shipyard.server.control.app import create_control_app
from shipyard.server.launcher import TOKEN_VARIABLES
from shipyard.server.operations import ROUTES
from tests.deploy.conftest import KUBERNETES, ROOT

#: The oldest Kubernetes the manifests promise to work on (docs/deploy.md), and the newest the validator has.
VERSIONS = ("1.29.0", latest_version())
OVERLAYS = sorted(path.name for path in (KUBERNETES / "overlays").iterdir() if path.is_dir())
#: Variables that are no shipyard setting but that the pods set on purpose: botocore's own, which s3fs reads.
BOTOCORE_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}
Document = dict[str, Any]


def documents(path: Path) -> list[Document]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def kustomizations() -> list[Path]:
    return sorted(KUBERNETES.rglob("kustomization.yaml"))


def listed_files(kustomization: Path) -> dict[str, list[Path]]:
    """The files a kustomization names, by role: resources (folders left out), patches and env files."""
    spec = documents(kustomization)[0]
    folder = kustomization.parent
    resources = [folder / entry for entry in spec.get("resources", [])]
    return {
        "resources": [path for path in resources if not path.is_dir()],
        "folders": [path for path in resources if path.is_dir() or not path.suffix],
        "patches": [folder / patch["path"] for patch in spec.get("patches", [])],
        "envs": [
            folder / env for generator in spec.get("secretGenerator", []) for env in generator.get("envs", [])
        ],
    }


def resource_files() -> list[Path]:
    return sorted({path for k in kustomizations() for path in listed_files(k)["resources"]})


def validate(document: Document, version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


# --- every file, as it is -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kustomization", kustomizations(), ids=lambda p: p.parent.relative_to(KUBERNETES).as_posix()
)
def test_every_file_a_kustomization_names_exists_and_every_manifest_is_named(kustomization: Path) -> None:
    listed = listed_files(kustomization)
    for path in [*listed["resources"], *listed["folders"], *listed["patches"]]:
        assert path.exists(), f"{kustomization}: {path.name} does not exist"
    for env in listed["envs"]:  # the real one is written by the user; its template is committed
        assert env.with_name(env.name + ".example").is_file(), f"{env.name}.example is missing"
    named = {path.resolve() for path in [*listed["resources"], *listed["patches"]]}
    for manifest in kustomization.parent.glob("*.yaml"):
        assert manifest == kustomization or manifest.resolve() in named, f"{manifest} is applied by nothing"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", resource_files(), ids=lambda p: p.relative_to(KUBERNETES).as_posix())
def test_every_document_of_every_manifest_is_valid(path: Path, version: str) -> None:
    loaded = documents(path)
    assert loaded, f"{path} holds no document"
    for document in loaded:
        validate(document, version)


@pytest.mark.parametrize(
    "broken",
    [
        {"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": "http"}]}]}}}},
        {"spec": {"replicas": 1, "strategy": {"type": "Recreate", "recreate": True}}},
    ],
    ids=["port-not-a-number", "unknown-field"],
)  # fmt: skip
def test_the_validator_rejects_a_broken_deployment(broken: Document) -> None:
    deployment = next(
        d for d in documents(KUBERNETES / "base" / "scheduler.yaml") if d["kind"] == "Deployment"
    )
    merged = _merge(deployment, broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(merged, VERSIONS[-1])


def _merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{key: _merge(base.get(key), value) for key, value in change.items()}}
    if isinstance(base, list) and isinstance(change, list) and base and isinstance(base[0], dict):
        return [_merge(base[0], change[0]), *base[1:]]
    return change


# --- each overlay, rendered -------------------------------------------------------------------------------


def kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    message = "neither kustomize nor kubectl is installed: the overlays cannot be rendered"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def render(overlay: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kustomize_command(), str(overlay)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/kubernetes with each overlay's secret.env written from its template."""
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, copy, ignore=shutil.ignore_patterns("secret.env"))
    for template in copy.rglob("secret.env.example"):
        shutil.copy(template, template.with_suffix(""))
    return copy


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, manifests: Path) -> tuple[str, list[Document]]:
    overlay = manifests / "overlays" / request.param
    ran = render(overlay)
    assert ran.returncode == 0, ran.stderr
    return request.param, [document for document in yaml.safe_load_all(ran.stdout) if document]


def test_an_overlay_without_its_secret_env_is_refused_naming_it(tmp_path: Path) -> None:
    shutil.copytree(KUBERNETES, tmp_path / "kubernetes", ignore=shutil.ignore_patterns("secret.env"))
    ran = render(tmp_path / "kubernetes" / "overlays" / "team")
    assert ran.returncode != 0
    assert "secret.env" in ran.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_document_is_valid(rendered: tuple[str, list[Document]], version: str) -> None:
    _, loaded = rendered
    kinds = sorted(document["kind"] for document in loaded)
    assert kinds.count("Deployment") == 4 and {
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } < set(kinds)
    for document in loaded:
        validate(document, version)
        assert document["metadata"].get("namespace", "shipyard") == "shipyard"


def by_kind(loaded: list[Document], kind: str) -> dict[str, Document]:
    return {document["metadata"]["name"]: document for document in loaded if document["kind"] == kind}


def containers(loaded: list[Document]) -> Iterator[tuple[Document, Document]]:
    for deployment in by_kind(loaded, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield deployment, container


def option(arguments: list[str], name: str) -> str | None:
    return arguments[arguments.index(name) + 1] if name in arguments else None


def default_port(command: object) -> int:
    return int(inspect.signature(command).parameters["port"].default)  # type: ignore[arg-type]


def probe_paths(container: Document) -> dict[str, str]:
    probes = ("startupProbe", "livenessProbe", "readinessProbe")
    return {probe: container[probe]["httpGet"]["path"] for probe in probes if probe in container}


def test_serve_pods_listen_and_are_probed_where_shipyard_serve_does(
    rendered: tuple[str, list[Document]],
) -> None:
    _, loaded = rendered
    routes = {route.path for route in ROUTES if isinstance(route, Route)}
    served = [(d, c) for d, c in containers(loaded) if c["args"][0] == "serve"]
    assert {d["metadata"]["name"] for d, _ in served} == {"shipyard-inference", "shipyard-monitor"}
    for _, container in served:
        port = default_port(serve_command)
        assert option(container["args"], "--port") in (None, str(port))
        assert [p["containerPort"] for p in container["ports"]] == [port]
        paths = probe_paths(container)
        assert set(paths.values()) <= routes
        assert paths["livenessProbe"] == "/health/live"
        assert all(container[p]["httpGet"]["port"] == container["ports"][0]["name"] for p in paths)
    inference = next(c for d, c in served if d["metadata"]["name"] == "shipyard-inference")
    assert inference["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_the_control_plane_listens_and_is_probed_where_shipyard_server_does(
    rendered: tuple[str, list[Document]], tmp_path: Path
) -> None:
    _, loaded = rendered
    app = create_control_app(load_settings(tmp_path / "ws"), auth=True)
    routes = {getattr(route, "path", "") for route in app.routes}
    (container,) = [c for _, c in containers(loaded) if c["args"][0] == "server"]
    port = default_port(server_command)
    assert option(container["args"], "--port") in (None, str(port))
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert set(probe_paths(container).values()) == {"/health"} and "/health" in routes


def test_services_route_to_the_right_pods_and_ports(rendered: tuple[str, list[Document]]) -> None:
    _, loaded = rendered
    pods = {
        name: (d["spec"]["template"]["metadata"]["labels"], d["spec"]["template"]["spec"]["containers"][0])
        for name, d in by_kind(loaded, "Deployment").items()
    }
    expected = {"shipyard-inference": {"shipyard-inference"}, "shipyard-server": {"shipyard-server"}}
    for name, service in by_kind(loaded, "Service").items():
        selector = service["spec"]["selector"]
        chosen = {pod for pod, (labels, _) in pods.items() if selector.items() <= labels.items()}
        assert chosen == expected[name], (
            f"{name} selects {chosen}"
        )  # never the monitor, which takes no traffic
        for port in service["spec"]["ports"]:
            for pod in chosen:
                assert port["targetPort"] in {p["name"] for p in pods[pod][1]["ports"]}


def test_inference_scales_on_cpu_and_keeps_a_replica_through_disruptions(
    rendered: tuple[str, list[Document]],
) -> None:
    overlay, loaded = rendered
    deployment = by_kind(loaded, "Deployment")["shipyard-inference"]
    (autoscaler,) = by_kind(loaded, "HorizontalPodAutoscaler").values()
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shipyard-inference",
    }
    assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"]] == ["cpu"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "cpu" in container["resources"]["requests"]  # utilization is a share of the request
    (budget,) = by_kind(loaded, "PodDisruptionBudget").values()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    if autoscaler["spec"]["minReplicas"] > 1:
        assert budget["spec"]["minAvailable"] >= 1
    else:  # one replica: a budget keeping it would block every node drain
        assert "minAvailable" not in budget["spec"] and budget["spec"]["maxUnavailable"] == 1, overlay


def test_what_must_run_once_runs_once(rendered: tuple[str, list[Document]]) -> None:
    """One scheduler and one monitor, replaced (Recreate) rather than overlapped; the scaled inference
    replicas run neither the monitors nor the retraining watcher."""
    _, loaded = rendered
    deployments = by_kind(loaded, "Deployment")
    for name in ("shipyard-scheduler", "shipyard-monitor"):
        assert deployments[name]["spec"]["replicas"] == 1
        assert deployments[name]["spec"]["strategy"] == {"type": "Recreate"}
    assert (
        deployments["shipyard-scheduler"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
        == "scheduler"
    )
    inference = deployments["shipyard-inference"]["spec"]["template"]["spec"]["containers"][0]["args"]
    monitor = deployments["shipyard-monitor"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--no-monitor", "--no-retrain"} <= set(inference)
    assert not {"--no-monitor", "--no-retrain", "--no-alerts", "--no-log"} & set(monitor)
    assert [a for a in inference if "@" in a] == [a for a in monitor if "@" in a]  # the same models


def shipyard_variables() -> set[str]:
    """Every environment variable shipyard reads for its settings, its workspace and its serve token."""
    settings = {ENV_PREFIX + name.upper() for name in FIELDS}
    home = "SHIPYARD_HOME"
    assert find_home(environ={home: "/srv/ws"}) == Path("/srv/ws")  # the name really chooses the workspace
    return settings | {home, *TOKEN_VARIABLES}


def environment(loaded: list[Document]) -> tuple[set[str], dict[str, str]]:
    """Every variable name the pods get, and the values from the ConfigMaps and the Secret they read."""
    config_maps = by_kind(loaded, "ConfigMap")
    (secret,) = by_kind(loaded, "Secret").values()
    secret_values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    secret_values |= secret.get("stringData", {})
    names: set[str] = set()
    values: dict[str, str] = {}
    for _, container in containers(loaded):
        for source in container.get("envFrom", []):
            data = config_maps[source["configMapRef"]["name"]]["data"]
            names |= set(data)
            values |= data
        for variable in container.get("env", []):
            names.add(variable["name"])
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == secret["metadata"]["name"]
            assert reference["key"] in secret_values, f"the Secret has no key {reference['key']}"
            values[variable["name"]] = secret_values[reference["key"]]
    return names, values


def test_every_variable_the_pods_get_is_one_shipyard_or_botocore_reads(
    rendered: tuple[str, list[Document]],
) -> None:
    _, loaded = rendered
    names, _ = environment(loaded)
    known = shipyard_variables()
    unknown = sorted(name for name in names if name not in known and name not in BOTOCORE_VARIABLES)
    assert not unknown, f"no setting reads {unknown}; known: {sorted(known)}"
    assert "SHIPYARD_REGISTRY_URL" in names and "SHIPYARD_SERVE_TOKEN" in names


def test_the_pods_settings_load_as_shipyard_reads_them(
    rendered: tuple[str, list[Document]], tmp_path: Path
) -> None:
    overlay, loaded = rendered
    _, values = environment(loaded)
    home = tmp_path / "ws"
    home.mkdir()
    (home / "shipyard.toml").write_text(
        by_kind(loaded, "ConfigMap")["shipyard-workspace"]["data"]["shipyard.toml"]
    )
    settings = load_settings(home, environ=values)
    if overlay == "team":
        assert settings.registry_url.startswith("postgresql+psycopg://")
        assert settings.artifacts_url.startswith("s3://") and settings.log_url.startswith("s3://")
    else:
        assert settings.registry_url == f"sqlite:///{home / 'registry.db'}"
        assert settings.artifacts_url.startswith("file://")


def test_pods_run_as_the_images_user_with_the_workspace_writable(
    rendered: tuple[str, list[Document]],
) -> None:
    _, loaded = rendered
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    assert user is not None
    home = re.search(r"SHIPYARD_HOME=(\S+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    assert home is not None
    for deployment, container in containers(loaded):
        pod = deployment["spec"]["template"]["spec"]
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            int(user.group(1)),
            int(user.group(2)),
        )
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert home.group(1) in mounts and "/tmp" in mounts  # the root filesystem is read-only
        assert f"{home.group(1)}/shipyard.toml" in mounts
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert set(mounts.values()) <= set(volumes)
        workspace = volumes[mounts[home.group(1)]]
        assert len(set(workspace) - {"name"}) == 1, f"{workspace} has more than one source"


def test_the_laptop_workspace_is_one_volume_every_pod_shares(rendered: tuple[str, list[Document]]) -> None:
    overlay, loaded = rendered
    claims = set(by_kind(loaded, "PersistentVolumeClaim"))
    sources = {
        str(volume.get("persistentVolumeClaim", {}).get("claimName"))
        for deployment in by_kind(loaded, "Deployment").values()
        for volume in deployment["spec"]["template"]["spec"]["volumes"]
        if volume["name"] == "workspace"
    }
    if overlay == "laptop":
        assert sources == claims == {"shipyard-workspace"}
    else:
        assert not claims and sources == {"None"}  # PostgreSQL and S3 hold everything that outlives a pod
