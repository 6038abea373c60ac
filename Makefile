# The two commands a newcomer needs:
#   make build   set up .venv, build the warehouse from the embedded demo data (dbt build runs every data test)
#   make test    the whole test suite: dbt build with data and unit tests, pytest, sqlfluff, ruff
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_PROJECT_DIR := $(CURDIR)
WAREHOUSE ?= $(or $(ZUORA_WAREHOUSE_DIR),warehouse)/zuora.duckdb

.PHONY: setup build refresh test test-spark browser java dbt-test pytest lint lint-models lint-incremental lint-python score format docs demo-data catalog bench report clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Builds from $$ZUORA_EXPORT_DIR when it is set, else from the embedded demo; publishes only a passing build.
# REPLACE=1 publishes over a warehouse built from another input (the demo over real exports, or the reverse).
build: setup
	$(BIN)/python -m zuora_wh build $(if $(REPLACE),--replace)
	$(BIN)/python -m zuora_wh metrics
	@echo
	@echo "The warehouse is $(abspath $(WAREHOUSE)). Try:"
	@echo "  $(BIN)/duckdb -readonly $(WAREHOUSE) \"select status, count(*) from marts.fct_billing_runs group by 1 order by 2 desc\""

# Pull what changed from Zuora into $$ZUORA_EXPORT_DIR (AQuA; credentials from the environment, several tenants from
# $$ZUORA_TENANTS_FILE), build from that folder, answer the metrics, then alerts (exit 1 when one fires). For cron
# and CI schedules (README: Run it on a schedule).
refresh: setup
	$(BIN)/python -m zuora_wh refresh

# pytest keeps the two cores busy but for moments; the models' lint (single-threaded dbt compiling, a minute of work
# otherwise waiting its turn) runs beside it in those moments, its output shown after pytest's.
test: browser setup dbt-test
	@$(MAKE) --no-print-directory lint-models > target/lint-models.log 2>&1 & linting=$$!; \
	$(MAKE) --no-print-directory pytest; tested=$$?; \
	wait $$linting; linted=$$?; cat target/lint-models.log; \
	[ $$tested -eq 0 ] && [ $$linted -eq 0 ]
	@$(MAKE) --no-print-directory lint-incremental lint-python score

# What make test needs beyond Python: Debian's chromium (the health page's test). Root installs it; anyone else is told
# in the first line, before anything runs.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make test: installing Debian's chromium (the health page's test opens the page in it)"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "make test needs Debian's chromium for the health page's test: run 'sudo apt-get install chromium', then make test again"; \
	    exit 1; \
	  fi; }

# What make test-spark needs beyond Python: Java 17, the same way.
java:
	@command -v java >/dev/null 2>&1 || [ -n "$$JAVA_HOME" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make test-spark: installing Java 17 (Spark runs on it)"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null; \
	  else \
	    echo "make test-spark needs Java 17: run 'sudo apt-get install openjdk-17-jre-headless', then make test-spark again"; \
	    exit 1; \
	  fi; }

# The same project on Spark (in-process pyspark), compared mart by mart with the DuckDB demo build of dbt-test.
test-spark: java setup $(VENV)/.spark-installed
	test -f target/test.duckdb || $(MAKE) dbt-test
	$(BIN)/python -m pytest -n 2 --dist loadfile tests/spark

$(VENV)/.spark-installed: requirements-spark.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	touch $@

# dbt build against a throw-away database, so tests never touch the warehouse users read.
dbt-test: setup
	mkdir -p target && rm -f target/test.duckdb target/test.duckdb.versions
	ZUORA_DUCKDB_PATH=target/test.duckdb $(BIN)/dbt build

# Workers take whole test files (their module fixtures are built once). One more worker than cores: the builds in the
# tests wait on single-threaded Python (dbt) for most of their time, so a third worker fills the cores of a 2-core
# machine (280 s against 306 s with two, measured). The longest files go first (tests/python/conftest.py).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
pytest: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# sqlfluff renders is_incremental() against the database it connects to, so both renderings are linted:
# a fresh empty database (a full build, as on a clean clone: every model) and the test database (an incremental run:
# the models whose SQL depends on it). sqlfluff's dbt works in target/lint, never in the test build's target/.
lint: lint-models lint-incremental lint-python

lint-models: setup
	mkdir -p target && rm -f target/lint.duckdb
	DBT_TARGET_PATH=target/lint ZUORA_DUCKDB_PATH=target/lint.duckdb $(BIN)/sqlfluff lint --processes 2 models

lint-incremental: setup
	test -f target/test.duckdb || $(MAKE) dbt-test
	DBT_TARGET_PATH=target/lint ZUORA_DUCKDB_PATH=target/test.duckdb $(BIN)/sqlfluff lint --processes 2 \
		$$(grep -rl 'is_incremental()' models)

lint-python: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# dbt-score, an external judge of the dbt project's metadata (descriptions, owners, example SQL, tests), on the
# manifest of the test build: every model, seed, source and macro scores at least 9 of 10.
score: setup
	test -f target/manifest.json || $(MAKE) dbt-test
	$(BIN)/dbt-score lint --manifest target/manifest.json --fail-project-under 9.0 --fail-any-item-under 9.0 --show failing-items

format: setup
	$(BIN)/sqlfluff fix models
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# dbt docs of the last build (from its build file: dbt never opens the served warehouse).
docs: setup
	$(BIN)/python -m zuora_wh docs

# Write the column lists that dbt's YAML and the README need, from the one list of the fields (var zuora_fields).
catalog: setup
	$(BIN)/python -m zuora_wh.catalog

# Re-write the embedded demo exports (deterministic: the same files every time).
demo-data: setup
	$(BIN)/python -m zuora_wh.generate --out-dir seeds

# The summary of the published build (files read, rows loaded, rejected by reason, superseded), and the bill-run
# health page with its charts: warehouse/report/report.html, and a PNG of each chart beside it.
report: setup
	$(BIN)/python -m zuora_wh report --html $(dir $(WAREHOUSE))report/report.html

# Scale benchmark (a script, not a test): 1M and 10M bill runs against a plain-DuckDB baseline.
bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf target logs $(VENV)
