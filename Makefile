# Two entry points, both safe on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Mermaid's own parser (npm), which the tests use to check every chart the reports draw.
MERMAID := tests/mermaid/node_modules/.installed
# The union of the hash locks shipped for the generated jobs, and the remote plugin locks the tests use
# (`make locks` remakes them all): the development environment installs exactly these.
LOCK := mlops_gitops/locks/data-dvc-github.txt
PLUGIN_LOCKS := mlops_gitops/locks/plugins/s3.txt mlops_gitops/locks/plugins/gdrive.txt
DEV_LOCKS := data dvc github --remote s3 --remote gdrive

.PHONY: demo test lint typecheck unit bench dist locks clean

# Re-install when the project's dependencies change; pip's and uv's caches make a re-run cheap. The
# runtime dependencies are installed from the locks the generated jobs install (mlops_gitops/locks), by
# the same command (uv, every hash checked), so what the tests run is what CI installs; the rest of
# the dev extra is held to their versions. Then uv's cache holds every package of those locks,
# hash-checked (the --target copy also caches what the venv had before, and uv and setuptools, which
# pip installs): the tests install tool environments from it offline (UV_OFFLINE=1; `uv cache dir`).
$(STAMP): pyproject.toml examples/iris/requirements.txt $(LOCK) $(PLUGIN_LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m mlops_gitops.locks install $(DEV_LOCKS)
	$(BIN)/python -m mlops_gitops.locks lock $(DEV_LOCKS) > $(VENV)/lock.txt
	rm -rf $(VENV)/.uv-warm
	$(BIN)/uv pip install --quiet --python $(BIN)/python --target $(VENV)/.uv-warm --require-hashes \
	  --no-deps --no-build-isolation -r $(VENV)/lock.txt
	rm -rf $(VENV)/.uv-warm
	$(BIN)/python -m mlops_gitops.locks constraints $(DEV_LOCKS) > $(VENV)/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt \
	  -e '.[dev]' -r examples/iris/requirements.txt
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
	@# Every benchmark runs; a missed goal fails the target at the end, not the ones after it.
	@status=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

# The sdist and wheel the release workflow builds (same command, same check; the dev extra has the
# build tools .ci/release-requirements.txt locks for the workflow).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python .ci/check_dist.py dist

# Re-make the hash locks: the ones shipped for the generated jobs (and their remote plugins), and the
# release workflow's build tools (for the Python it builds with). uv resolves universally (every
# Python, every platform).
locks: $(STAMP)
	$(BIN)/python .ci/lock.py
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.12 --no-emit-index-url \
	  --custom-compile-command "make locks" -o .ci/release-requirements.txt .ci/release-requirements.in

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache tests/mermaid/node_modules
