"""The names the prediction log gives things, apart from the Arrow code that writes them.

Alert rules, the figure catalogue and a server's supervisor check names against these without loading
pyarrow, numpy or pandas; ``records`` and ``events`` write the same names into segments.
"""

from __future__ import annotations

#: The arm a row written before rollouts existed was answered by: the only one there was.
DEFAULT_ARM = "stable"
#: What a model's outputs are called beside its input columns, wherever rows and outputs share a table: the
#: reference profile, the training report, the monitors' windows and their figures. ``_score`` is a binary
#: classifier's probability of the positive class.
PREDICTION_COLUMN = "_prediction"
SCORE_COLUMN = "_score"
OUTPUT_COLUMNS = (PREDICTION_COLUMN, SCORE_COLUMN)

#: Why a request got no prediction: the ``error`` column of ``failures``, and the ``failures.<kind>`` figures.
FAILURE_KINDS = (
    "rejected",
    "invalid",
    "too_large",
    "unsupported_media_type",
    "overloaded",
    "timeout",
    "model_error",
    "internal",
)
