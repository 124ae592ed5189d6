"""Registry benchmark: register 1,000 small versions and resolve 10,000 references, on SQLite and PostgreSQL.

Baseline, in the same run: MLflow's registry on the same SQLite file system and the same PostgreSQL server,
when an MLflow virtualenv is available (``make bench`` creates ``bench/.venv-mlflow``; or pass
``--mlflow-python``). Results are printed and written to docs/benchmarks.md.

    python bench/registry.py [--versions 1000] [--resolves 10000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Timing, markdown_table, measure, write_section
from shipyard import Registry

HERE = Path(__file__).resolve().parent
DEFAULT_MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"


def small_models(count: int) -> list[LogisticRegression]:
    """Distinct tiny classifiers (distinct bytes, so content addressing cannot share artifacts)."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 3))
    target = (features[:, 0] > 0).astype(int)
    return [LogisticRegression(C=1.0 + i / 1000).fit(features, target) for i in range(count)]


def bench_shipyard(
    url: str, home: Path, models: list[LogisticRegression], resolves: int
) -> dict[str, Timing]:
    with Registry(home=home, registry_url=url, actor="bench") as registry:
        registry.register("warm-up", models[0])  # imports and first-use costs are not what we measure
        registry.resolve("warm-up/1")
        register = measure("register", lambda i: registry.register("fraud", models[i]), len(models))
        registry.set_alias("fraud", "production", 1)
        count = len(models)
        by_version = measure("resolve name/N", lambda i: registry.resolve(f"fraud/{1 + i % count}"), resolves)
        by_alias = measure("resolve name@alias", lambda i: registry.resolve("fraud@production"), resolves)
        mlflow_style = measure(
            "resolve models:/name/N", lambda i: registry.resolve(f"models:/fraud/{1 + i % count}"), resolves
        )
    return {"register": register, "by_version": by_version, "by_alias": by_alias, "models_uri": mlflow_style}


def bench_mlflow(python: Path, url: str | None, versions: int, resolves: int) -> dict[str, Timing] | None:
    command = [str(python), str(HERE / "baselines" / "mlflow_registry.py"), "--versions", str(versions)]
    command += ["--resolves", str(resolves)]
    if url:
        command += ["--database-url", url]
    with tempfile.TemporaryDirectory(prefix="mlflow-cwd-") as scratch:  # MLflow writes ./mlruns into its cwd
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False, cwd=scratch)
    if done.returncode != 0:
        print(f"MLflow baseline failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    data = json.loads(done.stdout)
    bench_mlflow.version = data["mlflow"]  # type: ignore[attr-defined]
    return {key: Timing(key, tuple(data[key])) for key in ("register", "by_version", "by_alias")}


def postgres_schema_url(server: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    ), schema


def drop_schema(server: str, schema: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--resolves", type=int, default=10000)
    parser.add_argument("--mlflow-versions", type=int, default=200, help="MLflow registers ~25x slower")
    parser.add_argument("--postgres-url", default=os.environ.get("SHIPYARD_TEST_POSTGRES_URL"))
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    models = small_models(args.versions)
    rows = []
    headline: dict[str, float] = {}
    backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres_url)] if args.postgres_url else [])
    for backend, server in backends:
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as scratch:
            schema = None
            if server:
                url, schema = postgres_schema_url(server)
                mlflow_url, mlflow_schema = postgres_schema_url(server)
            else:
                url = f"sqlite:///{scratch}/registry.db"
                mlflow_url, mlflow_schema = None, None
            try:
                ours = bench_shipyard(url, Path(scratch) / "ws", models, args.resolves)
                theirs = None
                if args.mlflow_python.exists():
                    theirs = bench_mlflow(
                        args.mlflow_python, mlflow_url, args.mlflow_versions, args.resolves // 5
                    )
            finally:
                if schema and server:
                    drop_schema(server, schema)
                if mlflow_schema and server:
                    drop_schema(server, mlflow_schema)
        labels = {
            "register": "register a small version",
            "by_version": "resolve `fraud/N`",
            "by_alias": "resolve `fraud@production`",
            "models_uri": "resolve `models:/fraud/N`",
        }
        for key, label in labels.items():
            timing = ours[key]
            # MLflow resolves a models:/ URI with the same get_model_version call.
            base = theirs.get("by_version" if key == "models_uri" else key) if theirs else None
            ratio = f"{base.median_ms / timing.median_ms:.1f}× faster" if base else "n/a"
            rows.append(
                [
                    backend,
                    label,
                    timing.count,
                    f"{timing.median_ms:.3f}",
                    f"{timing.p99_ms:.3f}",
                    f"{timing.ops_per_second:,.0f}",
                    f"{base.median_ms:.3f}" if base else "n/a",
                    ratio,
                ]
            )
            headline[f"{backend} {key}"] = timing.median_ms

    columns = [
        "backend",
        "operation",
        "ops",
        "median ms",
        "p99 ms",
        "ops/s",
        "MLflow median ms",
        "shipyard vs MLflow",
    ]
    table = markdown_table(columns, rows)
    print(table)
    mlflow_version = getattr(bench_mlflow, "version", None)
    aims = (
        f"Aims (SQLite, median): resolve < 1 ms — measured "
        f"{statistics.mean([headline['SQLite by_version'], headline['SQLite by_alias']]):.3f} ms; "
        f"register < 20 ms — measured {headline['SQLite register']:.2f} ms."
    )
    print(aims)
    if args.no_write:
        return
    baseline = (
        f"Baseline: MLflow {mlflow_version} (`mlflow.sklearn.log_model(..., registered_model_name=...)` with "
        f"explicit `pip_requirements`, its fastest path; `MlflowClient.get_model_version[_by_alias]`), "
        f"{args.mlflow_versions} registrations and {args.resolves // 5} resolves of each kind, same backend."
        if mlflow_version
        else "Baseline: MLflow was not available in this run (create bench/.venv-mlflow with `make bench`)."
    )
    body = (
        f"`python bench/registry.py` — {args.versions} registrations of distinct small scikit-learn models "
        f"(skops format, hash-verified round trip, lineage captured) and {args.resolves} resolves of each "
        f"reference kind.\n\n{table}\n\n{aims}\n\n{baseline}\n"
    )
    write_section("registry", "Registry: registration and reference resolution", body)


if __name__ == "__main__":
    main()
