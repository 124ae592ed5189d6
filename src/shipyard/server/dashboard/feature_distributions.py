"""A version's features as the version page draws them: the reference (training) distribution of each,
against the newest monitored window that had traffic.

Stored windows keep their figures, not their profiles, so the current profile is computed again from the
prediction log with ``monitor_window`` over that one window. A version without traffic shows its
reference alone, and the page says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from shipyard.monitoring.series import stored_windows
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import PredictionLog
from shipyard.predictions.records import OUTPUT_COLUMNS
from shipyard.registry import ModelVersion, Registry
from shipyard.server.dashboard.charts import Figure, distribution_figure
from shipyard.stats import Profile

#: Features drawn at most (a wide model would make a page of hundreds of charts).
MAX_FEATURES = 12
#: How many of the newest stored windows are searched for one with traffic.
_SEARCHED_WINDOWS = 48


@dataclass
class FeatureDistributions:
    """The charts of a version page's distributions section, and what the page says above them."""

    #: (feature, figure) pairs, at most ``MAX_FEATURES``; a figure of None has no value to draw.
    figures: list[tuple[str, Figure | None]] = field(default_factory=list)
    #: Features the reference profiles beyond those drawn.
    more: int = 0
    #: What "current" is: the window drawn, or why there is none.
    note: str = ""
    has_reference: bool = False


def feature_distributions(
    registry: Registry, version: ModelVersion, window: timedelta
) -> FeatureDistributions:
    """The reference-against-current charts of ``version``'s first features, current being its newest
    ``window``-long monitored window with traffic."""
    if not version.profile:
        return FeatureDistributions(note=f"{version.ref} has no reference profile: nothing to compare.")
    reference = Profile.from_dict(version.profile)
    features = _features(version, reference)
    shown, more = features[:MAX_FEATURES], max(0, len(features) - MAX_FEATURES)
    found = stored_windows(registry, version.model, window, version=version.version, last=_SEARCHED_WINDOWS)
    busy = [stored for stored in found if stored.report.get("rows")]
    if not busy:
        note = f"No monitored traffic for {version.ref} yet: the reference (training) distributions alone."
        figures = [(name, _reference_only(name, reference)) for name in shown]
        return FeatureDistributions(figures, more, note, has_reference=True)
    newest = busy[-1]
    result = monitor_window(
        registry, PredictionLog(registry.settings.log_url), version, newest.start, newest.end
    )
    current, layout = result.profile, result.reference_profile or reference
    name = f"{newest.start:%Y-%m-%d %H:%M}–{newest.end:%H:%M} UTC"
    figures = [
        (
            feature,
            distribution_figure(feature, layout, current, current_name=name)
            if feature in layout.layout.columns
            else None,
        )
        for feature in shown
    ]
    note = f"Current: the newest monitored window with traffic, {name} ({result.rows:,} rows)."
    return FeatureDistributions(figures, more, note, has_reference=True)


def _features(version: ModelVersion, reference: Profile) -> list[str]:
    """The model's inputs the reference profiles, in the contract's order (the profile may hold the target
    and the outputs too, which are not features)."""
    if version.input_schema:
        names = [str(column["name"]) for column in version.input_schema.get("columns", [])]
    else:
        names = list(version.info.feature_names or ())
    names = names or [name for name in reference.layout.columns if name not in OUTPUT_COLUMNS]
    return [name for name in names if name in reference.layout.columns]


def _reference_only(feature: str, reference: Profile) -> Figure | None:
    """The reference's distribution of ``feature`` alone, drawn as the comparison draws it."""
    figure = distribution_figure(feature, reference, reference, current_name="reference")
    if figure is None:
        return None
    figure["data"] = figure["data"][:1]
    figure["layout"]["title"]["text"] = f"{feature}: reference (training)"
    return figure
