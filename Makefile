# Two entry points, both safe on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Mermaid's own parser (npm), which the tests use to check every chart the reports draw.
MERMAID := tests/mermaid/node_modules/.installed

.PHONY: demo test lint typecheck unit bench dist release-lock clean

# Re-install when the project's dependencies change; pip's own cache makes a re-run cheap.
$(STAMP): pyproject.toml examples/iris/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' -r examples/iris/requirements.txt
	@touch $(STAMP)

$(MERMAID): tests/mermaid/package.json tests/mermaid/package-lock.json
	npm ci --prefix tests/mermaid --no-audit --no-fund --loglevel=error
	@touch $(MERMAID)

demo: $(STAMP)
	$(BIN)/python -m mlops_gitops.demo

lint: $(STAMP)
	$(BIN)/ruff check mlops_gitops tests benchmarks examples .ci
	$(BIN)/ruff format --check mlops_gitops tests benchmarks examples .ci

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(MERMAID)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The sdist and wheel the release workflow builds (same command, same check; the dev extra has the
# build tools .ci/release-requirements.txt locks for the workflow).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python .ci/check_dist.py dist

# Re-lock the release workflow's build tools with hashes (all pure Python: one lock fits 3.11+).
release-lock: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links \
	  --no-emit-index-url -o .ci/release-requirements.txt .ci/release-requirements.in

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache tests/mermaid/node_modules
