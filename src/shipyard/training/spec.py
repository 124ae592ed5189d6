"""The training spec: everything needed to train, evaluate and register a model, declared in one file.

A spec is TOML (``shipyard train spec.toml``) or a dict/``TrainSpec`` from Python. It is validated at the
edge with pydantic and stored verbatim with the version it produced, so ``shipyard reproduce`` can run it
again. Example::

    model = "fraud"
    task = "classification"
    seed = 7

    [data]
    path = "transactions.csv"            # or: dataset = "transactions/3"
    target = "is_fraud"
    features = ["amount", "hour", "channel"]

    [estimator]
    class = "sklearn.ensemble.HistGradientBoostingClassifier"
    params = { max_iter = 200 }

    [cv]
    strategy = "stratified"
    folds = 5

    [evaluation]
    holdout = 0.2
    metrics = ["roc_auc", "f1"]
    slices = ["channel"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.errors import InvalidInput


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DataSpec(_Strict):
    """Where the training table comes from and which columns matter."""

    dataset: str | None = Field(None, description="a dataset version: 'name' (newest) or 'name/3'")
    path: str | None = Field(None, description="a CSV or Parquet file, versioned as a dataset on first use")
    name: str | None = Field(None, description="dataset name for `path` (default: the file's stem)")
    target: str
    features: list[str] | None = Field(
        None, description="default: every column except target, group and time"
    )
    exclude: list[str] = Field(default_factory=list, description="columns never used as features")
    contract: str | None = Field(
        None, description="a contract YAML/JSON file to enforce instead of inferring one from the data"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of data.dataset or data.path")
        return self


class EstimatorSpec(_Strict):
    """The estimator: an import path of a scikit-learn-compatible class or factory function, and params."""

    class_path: str = Field(alias="class", description="e.g. 'sklearn.linear_model.LogisticRegression'")
    params: dict[str, Any] = Field(default_factory=dict)
    preprocess: Literal["auto", "none"] = Field(
        "auto",
        description="auto: impute + scale numbers, one-hot encode categories; none: pass columns as-is",
    )


class CrossValidationSpec(_Strict):
    strategy: Literal["kfold", "stratified", "group", "timeseries"] | None = Field(
        None, description="default: stratified for classification, kfold for regression"
    )
    folds: int = Field(5, ge=2, le=100)
    group_column: str | None = None
    time_column: str | None = None

    @model_validator(mode="after")
    def _columns_for_strategy(self) -> CrossValidationSpec:
        if self.strategy == "group" and not self.group_column:
            raise ValueError("cv.strategy 'group' needs cv.group_column")
        return self


class EvaluationSpec(_Strict):
    metrics: list[str] | None = Field(None, description="default: the task's standard metrics")
    holdout: float = Field(0.2, gt=0.0, lt=0.9, description="share of rows held out for the final evaluation")
    slices: list[str] = Field(
        default_factory=list, description="columns whose segments get their own metrics"
    )
    min_slice_rows: int = Field(
        30, ge=1, description="segments with fewer hold-out rows are flagged as noisy"
    )


class TrainSpec(_Strict):
    """A complete, reproducible training run."""

    model: str = Field(description="registered model name")
    task: Literal["classification", "regression"] | None = Field(None, description="default: inferred")
    seed: int = 0
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    data: DataSpec
    estimator: EstimatorSpec
    cv: CrossValidationSpec = CrossValidationSpec()
    evaluation: EvaluationSpec = EvaluationSpec()

    @classmethod
    def load(cls, source: TrainSpec | Mapping[str, Any] | str | Path) -> TrainSpec:
        """A spec from a TrainSpec, a dict, or a TOML file; relative data paths resolve against the file."""
        if isinstance(source, TrainSpec):
            return source
        if isinstance(source, Mapping):
            return cls._validate(dict(source), "the spec")
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"training spec {str(path)!r} does not exist")
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path.name} is not valid TOML: {exc}") from None
        spec = cls._validate(document, path.name)
        relative = {
            key: str(path.parent / value)
            for key in ("path", "contract")
            if (value := getattr(spec.data, key)) is not None and not Path(value).is_absolute()
        }
        if relative:
            spec = spec.model_copy(update={"data": spec.data.model_copy(update=relative)})
        return spec

    @classmethod
    def _validate(cls, document: dict[str, Any], where: str) -> TrainSpec:
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'spec'}: {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidInput(f"invalid training spec in {where}: {problems}") from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
