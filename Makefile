# Two entry points, both safe on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Mermaid's own parser (npm), which the tests use to check every chart the reports draw.
MERMAID := tests/mermaid/node_modules/.installed
# The union of the hash locks shipped for the generated jobs (`make locks` remakes them all).
LOCK := mlops_gitops/locks/data-dvc-github.txt

.PHONY: demo test lint typecheck unit bench dist locks clean

# Re-install when the project's dependencies change; pip's own cache makes a re-run cheap. The runtime
# dependencies are held to the versions of the locks the generated jobs install (mlops_gitops/locks),
# so what the tests run is what CI installs.
$(STAMP): pyproject.toml examples/iris/requirements.txt $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m mlops_gitops.locks constraints data dvc github > $(VENV)/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt \
	  -e '.[dev]' -r examples/iris/requirements.txt setuptools
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

# Re-make the hash locks: the ones shipped for the generated jobs, and the release workflow's build
# tools (for the Python it builds with). uv resolves universally (every Python, every platform).
locks: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/python .ci/lock.py
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.12 --no-emit-index-url \
	  --custom-compile-command "make locks" -o .ci/release-requirements.txt .ci/release-requirements.in

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache tests/mermaid/node_modules
