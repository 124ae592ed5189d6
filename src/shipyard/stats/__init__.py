"""Reference profiles: mergeable summaries of a dataset that drift monitoring compares against.

At registration, a model's training data is summarised into a :class:`Profile` — per column a histogram on
fixed quantile edges or category counts over a fixed vocabulary, plus null counts, range and moments — and
stored with the version as a JSON-able dict. Monitoring profiles windows of production data with the
reference's :class:`ProfileLayout`, so the two are counted into the same bins and can be compared without
keeping a single training row. This is core code: numpy, pandas and pyarrow only, no I/O.

    layout = ProfileLayout.infer(training_frame)          # decided once, from the reference
    reference = Profile.build(training_frame, layout)
    window = Profile.build(chunk_1, layout).merge(Profile.build(chunk_2, layout))
    window.distribution("age")                           # proportions per bin, outer bins included
"""

from shipyard.stats._columns import ColumnKind
from shipyard.stats.bootstrap import Difference, paired_bootstrap
from shipyard.stats.layout import CategoricalLayout, ColumnLayout, InferOptions, NumericLayout, ProfileLayout
from shipyard.stats.profile import Profile
from shipyard.stats.sketches import CategoricalSketch, ColumnSketch, NumericSketch

__all__ = [
    "CategoricalLayout",
    "CategoricalSketch",
    "ColumnKind",
    "ColumnLayout",
    "ColumnSketch",
    "Difference",
    "InferOptions",
    "NumericLayout",
    "NumericSketch",
    "Profile",
    "ProfileLayout",
    "paired_bootstrap",
]
