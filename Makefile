# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is installed here,
# into .venv, with versions pinned by constraints.txt so every machine and CI resolve the same packages.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= auto

.PHONY: install demo test reliability lint typecheck unit kserve-client browser bench bench-serving-deps bench-drift-deps bench-control-plane lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

DEMO_STAMP := $(VENV)/.installed-demo

# The demo needs only the core package; the tests need every extra they exercise.
$(DEMO_STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $(DEMO_STAMP)

# PyTorch's CPU-only build is published on its own index; PyPI's Linux wheel carries CUDA (several GB) that
# the tests never use. torch comes from there when that index answers, else from the usual ones.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet --no-deps -c constraints.txt --index-url $(TORCH_CPU_INDEX) torch 2>/dev/null \
		|| echo "note: PyTorch's CPU index did not answer; torch comes from the default index"
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/shipyard demo

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: install
	$(BIN)/mypy

# KServe's REST client pins pandas < 3 and protobuf < 7: it gets its own venv, driven by one test over HTTP.
KSERVE_VENV := .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.installed
$(KSERVE_STAMP): tests/kserve-constraints.txt
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip install --quiet -c tests/kserve-constraints.txt kserve==0.21.0
	touch $@

kserve-client: $(KSERVE_STAMP)

# The drift report's test opens the HTML in a real headless Chromium (a Debian package).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

unit: install $(KSERVE_STAMP) browser
	SHIPYARD_TEST_POSTGRES_URL="$${SHIPYARD_TEST_POSTGRES_URL:-$$(tools/local_postgres.sh)}" \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

test: lint typecheck unit

# The standing fault-and-fuzz suite at full length (schemathesis, decoder properties, injected faults, a
# 10-minute soak); its short form runs inside `make test`. docs/reliability.md has the last figures.
reliability: install
	SHIPYARD_TEST_POSTGRES_URL="$${SHIPYARD_TEST_POSTGRES_URL:-$$(tools/local_postgres.sh)}" \
		SHIPYARD_RELIABILITY=long $(BIN)/pytest -n 2 tests/reliability --durations=15

# The container image built from the Dockerfile and run for real: each role from the image (serve answers
# a prediction and stops cleanly on SIGTERM, server is the control plane with auth on, scheduler runs).
# Minutes long and needs a container engine, so not part of `make test`. Where no container registry
# answers, build the base from Debian's packages first: PYTHON_IMAGE="$(tools/debian_python_image.sh)".
# CONTAINER_OPTIONS reach every build and run (a sandbox may need '--runtime runc' or lower ulimits).
CONTAINER ?= docker
PYTHON_IMAGE ?= python:3.11-slim-bookworm
CONTAINER_OPTIONS ?=
.PHONY: image-check
image-check: install
	SHIPYARD_TEST_CONTAINER="$(CONTAINER)" SHIPYARD_TEST_PYTHON_IMAGE="$(PYTHON_IMAGE)" \
		SHIPYARD_TEST_CONTAINER_OPTIONS="$(CONTAINER_OPTIONS)" $(BIN)/pytest -p no:cacheprovider \
		tests/deploy/image_check.py --durations=5

# The baseline (MLflow) lives in its own venv: it pins packages differently from shipyard.
MLFLOW_VENV := bench/.venv-mlflow
$(MLFLOW_VENV)/bin/python:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet mlflow-skinny==3.17.2 pandas skops scikit-learn \
		sqlalchemy alembic 'psycopg[binary]'

# The serving baselines load the very model file shipyard serves (a joblib dump), so their scikit-learn stack
# is pinned to shipyard's own, read from constraints.txt.
MODEL_PINS = $(shell grep -E '^(scikit-learn|scipy|numpy|joblib|threadpoolctl|pandas|skops)==' constraints.txt)

# `mlflow models serve --env-manager local` runs uvicorn + FastAPI, which mlflow-skinny 3 already depends on;
# pinned here with the model stack so the scoring server is the same on every machine.
MLFLOW_SERVING_STAMP := $(MLFLOW_VENV)/.installed-serving
$(MLFLOW_SERVING_STAMP): $(MLFLOW_VENV)/bin/python constraints.txt
	$(MLFLOW_VENV)/bin/python -m pip install --quiet mlflow-skinny==3.17.2 fastapi==0.165.0 uvicorn==0.54.0 \
		uvloop==0.23.0 httptools==0.9.0 \
		$(MODEL_PINS)
	touch $@

BENTOML_VENV := bench/.venv-bentoml
BENTOML_STAMP := $(BENTOML_VENV)/.installed
$(BENTOML_STAMP): constraints.txt
	test -x $(BENTOML_VENV)/bin/python || $(PYTHON) -m venv $(BENTOML_VENV)
	$(BENTOML_VENV)/bin/python -m pip install --quiet bentoml==1.4.40 $(MODEL_PINS)
	touch $@

# Everything bench/serving.py needs besides shipyard: the two baselines' venvs and wrk (a Debian package).
bench-serving-deps: $(MLFLOW_SERVING_STAMP) $(BENTOML_STAMP)
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

# Evidently 0.7 does not run on pandas 3: its own venv, pinned here.
EVIDENTLY_VENV := bench/.venv-evidently
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed
$(EVIDENTLY_STAMP):
	test -x $(EVIDENTLY_VENV)/bin/python || $(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet evidently==0.7.23 'pandas<3' pyarrow
	touch $@

bench-drift-deps: $(EVIDENTLY_STAMP)

bench: install $(MLFLOW_VENV)/bin/python bench-serving-deps bench-drift-deps
	$(PIP) install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/validation.py
	$(BIN)/python bench/reference_profile.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/prediction_log.py
	$(BIN)/python bench/feedback.py
	$(BIN)/python bench/monitoring_range.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/retraining.py
	$(BIN)/python bench/migration.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/control_plane.py

# The control plane (shipyard server on 127.0.0.1): dashboard pages, alias resolution over HTTP and remote
# registration on a workspace of 50 models and 30 days of windows. BENCH_ARGS passes options, e.g.
# BENCH_ARGS='--database-url postgresql://postgres@127.0.0.1:5432/test'.
bench-control-plane: install
	$(BIN)/python bench/control_plane.py $(BENCH_ARGS)

# Re-resolve the pins from pyproject.toml in a throw-away venv (run after changing dependencies).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^shipyard' > constraints.txt
	rm -rf .lock-venv

# Swagger UI's release files that /docs serves ship inside the package (server/swagger_ui, with their
# licence); this refreshes them from the swagger-ui-dist package (npm) at the version named here.
SWAGGER_UI_VERSION := 5.24.2
.PHONY: swagger-ui
swagger-ui:
	rm -rf .swagger-ui && mkdir .swagger-ui
	cd .swagger-ui && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) && tar xzf swagger-ui-dist-*.tgz
	cp .swagger-ui/package/swagger-ui-bundle.js .swagger-ui/package/swagger-ui.css \
		.swagger-ui/package/LICENSE .swagger-ui/package/NOTICE src/shipyard/server/swagger_ui/
	rm -rf .swagger-ui

# Plotly's basic bundle (scatter, bar, pie), which draws the dashboard's charts, ships inside the package
# (server/dashboard/static, with its licence): pages never fetch from a CDN. This refreshes it from the
# plotly.js-basic-dist-min package (npm) at the version named here, and notes that version beside it.
PLOTLY_VERSION := 4.1.2
PLOTLY_STATIC := src/shipyard/server/dashboard/static
.PHONY: vendor-plotly
vendor-plotly:
	rm -rf .plotly && mkdir .plotly
	cd .plotly && npm pack --silent plotly.js-basic-dist-min@$(PLOTLY_VERSION) && tar xzf plotly.js-basic-dist-min-*.tgz
	cp .plotly/package/plotly-basic.min.js $(PLOTLY_STATIC)/plotly-basic.min.js
	cp .plotly/package/LICENSE $(PLOTLY_STATIC)/plotly-LICENSE.txt
	sed -i 's/plotly.js-basic-dist-min [0-9][0-9.]*/plotly.js-basic-dist-min $(PLOTLY_VERSION)/' $(PLOTLY_STATIC)/README
	rm -rf .plotly

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-workspace

# The pinned dependencies (constraints.txt) against OSV's advisories, with pip-audit: live where api.osv.dev
# answers, else the committed snapshot tools/advisories.json, whose source and age are printed. A vulnerable
# pin fails (package, version, advisory ids, fixed versions); a pin with no advisory data fails too.
.PHONY: audit audit-snapshot
audit: install
	$(BIN)/python tools/dependency_audit.py check

# Refresh tools/advisories.json from api.osv.dev (every advisory of every pinned package), then commit it.
audit-snapshot: install
	$(BIN)/python tools/dependency_audit.py snapshot

test: audit
