"""Data contract benchmark: validate 1,000,000 rows × 20 columns against shipyard's contract and pandera.

The frame has 10 float, 5 integer and 5 category columns (about 10 levels each), built with a fixed seed;
1% of its rows are broken, spread over nulls in non-nullable columns, values outside enforced bounds and
unknown categories in closed columns. shipyard's contract is inferred from the clean frame and tightened
(bounds and closed categories); pandera gets the same checks (dtype, nullable, in_range, isin) and runs
with ``lazy=True`` so that, like shipyard, it collects every failure rather than stopping at the first.
Both must find the same bad rows. Results are printed and written to docs/benchmarks.md.

    python bench/validation.py [--rows 1000000] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Timing, markdown_table, measure, write_section
from shipyard.contracts import Contract

FLOATS = [f"f{i}" for i in range(10)]
INTEGERS = [f"i{i}" for i in range(5)]
CATEGORIES = [f"c{i}" for i in range(5)]
LEVELS = [f"level_{i}" for i in range(10)]
FLOAT_RANGE = (-100.0, 100.0)
INTEGER_RANGE = (0, 999)
BAD_SHARE = 0.01
RUNS = 3


def clean_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for name in FLOATS:
        columns[name] = rng.uniform(*FLOAT_RANGE, size=rows)
    for name in INTEGERS:
        columns[name] = rng.integers(INTEGER_RANGE[0], INTEGER_RANGE[1] + 1, size=rows)
    for name in CATEGORIES:
        columns[name] = pd.Series(np.asarray(LEVELS, dtype=object)[rng.integers(0, len(LEVELS), size=rows)])
    return pd.DataFrame(columns).astype({name: "str" for name in CATEGORIES})


def break_rows(frame: pd.DataFrame, seed: int = 11) -> tuple[pd.DataFrame, int]:
    """A copy of ``frame`` with 1% of its rows broken in one column each, five kinds of break in turn."""
    rng = np.random.default_rng(seed)
    dirty = frame.copy()
    bad = rng.choice(len(frame), size=int(len(frame) * BAD_SHARE), replace=False)
    kinds = np.arange(len(bad)) % 5
    for kind, names, value in (
        (0, FLOATS, np.nan),  # null in a non-nullable float column
        (1, FLOATS, 1e6),  # above the float maximum
        (2, INTEGERS, -1),  # below the integer minimum
        (3, CATEGORIES, "level_99"),  # unknown category in a closed column
        (4, CATEGORIES, None),  # null in a non-nullable category column
    ):
        rows = bad[kinds == kind]
        chosen = rng.integers(0, len(names), size=len(rows))
        for position, name in enumerate(names):
            dirty.loc[dirty.index[rows[chosen == position]], name] = value
    return dirty, len(bad)


def shipyard_contract(clean: pd.DataFrame) -> Contract:
    """Inferred from the clean frame, then tightened the way a user would in the YAML."""
    inferred = Contract.infer(clean)
    columns = []
    for column in inferred.columns:
        if column.type == "float":
            column = dataclasses.replace(column, minimum=FLOAT_RANGE[0], maximum=FLOAT_RANGE[1])
        elif column.type == "integer":
            column = dataclasses.replace(column, minimum=INTEGER_RANGE[0], maximum=INTEGER_RANGE[1])
        else:
            column = dataclasses.replace(column, closed=True)
        columns.append(column)
    return Contract(tuple(columns))


def pandera_schema() -> Any:
    import pandera.pandas as pandera

    columns = {
        name: pandera.Column(float, pandera.Check.in_range(*FLOAT_RANGE), nullable=False) for name in FLOATS
    }
    columns |= {
        name: pandera.Column(int, pandera.Check.in_range(*INTEGER_RANGE), nullable=False) for name in INTEGERS
    }
    columns |= {name: pandera.Column(str, pandera.Check.isin(LEVELS), nullable=False) for name in CATEGORIES}
    return pandera.DataFrameSchema(columns)


def shipyard_bad_rows(contract: Contract, frame: pd.DataFrame) -> set[int]:
    """Positions of the rows shipyard rejects."""
    rejected = contract.validate(frame, mode="split").rejected
    return set(frame.index.get_indexer(rejected.index).tolist())


def pandera_bad_rows(schema: Any, frame: pd.DataFrame) -> set[int]:
    """Positions of the rows pandera reports in its failure cases (the frame has a RangeIndex)."""
    from pandera.errors import SchemaErrors

    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return set(errors.failure_cases["index"].dropna().astype(int).tolist())
    return set()


def _timed(
    label: str, bad_rows: Callable[[Any, pd.DataFrame], set[int]], checker: Any, frame: pd.DataFrame
) -> tuple[Timing, set[int]]:
    found: list[set[int]] = []
    timing = measure(label, lambda _: found.append(bad_rows(checker, frame)), RUNS)
    assert all(rows == found[0] for rows in found), f"{label} found different rows on different runs"
    return timing, found[0]


def _rate(rows: int, timing: Timing) -> str:
    return f"{rows / (timing.median_ms / 1000):,.0f}"


def run_validation_benchmark(rows: int) -> str:
    """Time both validators on clean and on 1%-broken input; return the markdown for docs/benchmarks.md."""
    import pandera

    clean = clean_frame(rows)
    dirty, broken = break_rows(clean)
    contract, schema = shipyard_contract(clean), pandera_schema()
    # Warm-up on a slice: imports and first-call costs are not what is measured.
    shipyard_bad_rows(contract, dirty.iloc[:1000])
    pandera_bad_rows(schema, dirty.iloc[:1000])

    table_rows = []
    for label, frame, expected in (("1% bad rows", dirty, broken), ("clean", clean, 0)):
        ours, ours_found = _timed("shipyard", shipyard_bad_rows, contract, frame)
        theirs, theirs_found = _timed("pandera", pandera_bad_rows, schema, frame)
        assert len(ours_found) == len(theirs_found) == expected, (label, len(ours_found), len(theirs_found))
        assert ours_found == theirs_found, f"{label}: shipyard and pandera reject different rows"
        ratio = theirs.median_ms / ours.median_ms  # = shipyard rows/s ÷ pandera rows/s
        for timing in (ours, theirs):
            print(
                f"{label:>12} {timing.label:>8}: best {min(timing.samples):.3f} s, median "
                f"{timing.median_ms / 1000:.3f} s, {_rate(rows, timing)} rows/s"
            )
        table_rows.append(
            (
                label,
                f"{expected:,}",
                f"{min(ours.samples):.3f}",
                f"{ours.median_ms / 1000:.3f}",
                _rate(rows, ours),
                f"{min(theirs.samples):.3f}",
                f"{theirs.median_ms / 1000:.3f}",
                _rate(rows, theirs),
                f"{ratio:.1f}×",
            )
        )
    table = markdown_table(
        [
            "input",
            "bad rows (both agree)",
            "shipyard best s",
            "shipyard median s",
            "shipyard rows/s",
            "pandera best s",
            "pandera median s",
            "pandera rows/s",
            "shipyard ÷ pandera rows/s",
        ],
        table_rows,
    )
    return (
        f"`python bench/validation.py` — {rows:,} rows × 20 columns (10 float, 5 integer, 5 category with "
        f"{len(LEVELS)} levels), {RUNS} runs each, rows/s from the median. Checks: dtype, non-null, float "
        f"in {FLOAT_RANGE}, integer in {INTEGER_RANGE}, closed categories; both validators reject the same "
        f"rows. shipyard's time includes splitting valid rows (coerced) from rejected rows (with reasons); "
        f"pandera {pandera.__version__} runs with `lazy=True` and its time includes reading `failure_cases`."
        f"\n\n"
        f"### Validation\n\n{table}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print the table without updating the docs")
    options = parser.parse_args()
    body = run_validation_benchmark(options.rows)
    print(body)
    if not options.no_write:
        write_section("validation", "Data contract validation", body)


if __name__ == "__main__":
    main()
