"""Model cards: the Markdown page telling a reader what a version is, how good it is, and where it came from.

The user's own text (the version's description) comes first; the facts the registry recorded follow, so a
card is never out of date with the version it describes.
"""

from __future__ import annotations

from shipyard.registry.entities import ModelVersion


def render_model_card(version: ModelVersion) -> str:
    """The Markdown card of one version."""
    info = version.info
    lines = [f"# {version.model} — version {version.version}", ""]
    if version.description.strip():
        lines += [version.description.strip(), ""]
    lines += [
        "## Model",
        "",
        f"- Format: `{version.flavor}`",
        f"- Task: {info.task}",
    ]
    if info.classes is not None:
        lines.append(f"- Classes: {', '.join(map(str, info.classes))}")
    if info.feature_names:
        shown = ", ".join(f"`{name}`" for name in info.feature_names[:50])
        more = f" … and {len(info.feature_names) - 50} more" if len(info.feature_names) > 50 else ""
        lines.append(f"- Features ({len(info.feature_names)}): {shown}{more}")
    elif info.n_features is not None:
        lines.append(f"- Features: {info.n_features}")
    lines.append(f"- Artifact: sha256 `{version.artifact_sha256}` ({version.artifact_size:,} bytes)")
    if version.aliases:
        lines.append(f"- Aliases: {', '.join(version.aliases)}")
    if version.metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.6g} |" for name, value in sorted(version.metrics.items())]
    if version.params:
        lines += ["", "## Parameters", "", "| parameter | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in sorted(version.params.items())]
    lineage = version.lineage
    code = lineage.get("code") or {}
    lines += ["", "## Lineage", ""]
    if code.get("commit"):
        dirty = " (uncommitted changes present)" if code.get("dirty") else ""
        lines.append(f"- Code: commit `{code['commit']}`{dirty}")
    else:
        lines.append("- Code: not in a git checkout")
    for role, digest in sorted((lineage.get("datasets") or {}).items()):
        lines.append(f"- Dataset `{role}`: sha256 `{digest}`")
    if lineage.get("seed") is not None:
        lines.append(f"- Seed: {lineage['seed']}")
    if lineage.get("python"):
        lines.append(f"- Python {lineage['python']} on {lineage.get('platform', 'unknown platform')}")
    packages = lineage.get("packages") or {}
    if packages:
        lines.append("- Packages: " + ", ".join(f"{name}=={ver}" for name, ver in sorted(packages.items())))
    lines.append(f"- Registered by {version.created_by} at {version.created_at:%Y-%m-%d %H:%M:%S} UTC")
    if version.tags:
        lines += ["", "## Tags", ""]
        lines += [f"- {key}: {value}" for key, value in sorted(version.tags.items())]
    return "\n".join(lines) + "\n"
