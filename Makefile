# r2o task runner. `make demo` runs the main job; `make test` runs every check CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
R2O     := $(VENV)/bin/r2o
STAMP   := $(VENV)/.r2o-installed
PYTEST  := $(PY) -m pytest

.PHONY: help venv engine browser lint unit test demo serve clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# The virtual environment is (re)made whenever pyproject.toml or the setup scripts change.
$(STAMP): pyproject.toml ci/bootstrap.sh ci/install-readers.sh
	@bash ci/bootstrap.sh $(VENV)
	@touch $(STAMP)

venv: $(STAMP)  ## Create or refresh .venv with r2o and its dev tools

engine:  ## Make a Docker engine answer (installs Debian's docker.io when needed)
	@bash ci/engine.sh

browser:  ## Make Debian's chromium available to the web page's browser tests (tests/web/)
	@bash ci/browser.sh

lint: venv  ## ruff, mypy --strict, and the import contracts of the house (lint-imports)
	$(VENV)/bin/ruff check tools tests benchmarks components libs
	$(VENV)/bin/ruff format --check tools tests benchmarks components libs
	$(VENV)/bin/mypy --strict tools/r2o
	$(VENV)/bin/lint-imports

# --dist loadgroup: tests sharing an expensive fixture (xdist_group marks: the downscaled wrf day) run on
# one worker, so it is computed once; every other test is spread as with the default --dist load
unit: venv  ## The fast tier: no Docker, no services, in parallel
	$(PYTEST) -q -n auto --dist loadgroup -m "not docker and not slow and not integration"

test: venv lint engine browser  ## Everything: lint, unit tier, Docker tier
	$(PYTEST) -q

# AQcast reports 2 days; it simulates a third: EPA's MDA8 windows starting 17-23 LST end the next morning, so
# the last reported day needs the next day's 00-06 LST hours (the pipeline's compliance step has
# lookahead_days: 1). The coarse inputs are rewritten every time (deterministic bytes: the cache still hits).
demo: venv engine  ## The main job: build every image, run AQcast for 2 days (+1 look-ahead day) locally, show the results
	$(R2O) validate
	$(R2O) build --all
	@echo "AQcast 2024-07-15 and 2024-07-16 (it also simulates 2024-07-17, the look-ahead day EPA's MDA8 rules need)"
	$(R2O) pipeline run aqcast --start 2024-07-15 --days 2 --prepare-inputs
	@run=.r2o/pipelines/aqcast/2024-07-15+2d; \
	  echo; cat $$run/compliance/report.txt; echo; \
	  echo "outputs:   $$run/<step>/<day>/ (each with provenance.json)"; \
	  echo "MDA8 map:  $$run/compliance/mda8_max.png"; \
	  echo "report:    $$run/compliance/report.txt"; \
	  echo "run report: $$run/report.json"

serve: venv engine  ## The product service and its web page on http://127.0.0.1:8080/ (API, WES, TES; auth none, loopback only)
	$(R2O) build --all
	@echo "the web page (catalog, launch form, runs): http://127.0.0.1:8080/"
	$(R2O) serve --host 127.0.0.1 --port 8080

clean:  ## Remove run outputs and caches (not the venv)
	rm -rf .r2o .pytest_cache .mypy_cache .ruff_cache
