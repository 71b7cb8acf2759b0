"""Speed targets of the generator (issue 2), measured against baselines in the same run.

1. `mlops-gitops generate --check` on the example: median wall time within 3x of
   `python -c "import jinja2, ruamel.yaml"`; and it must not import dvc or github.
2. A manifest with 200 stages and 20 deployment environments: `generate` after a manifest edit
   that leaves the pipeline alone under 1 s; the first generate, where DVC resolves the new
   pipeline, within 2x of DVC reading it (`dvc stage list --all`).
3. Hand-owned pipelines: `generate --check` in a fresh clone trusts the committed record
   (.mlops/pipelines.yaml) and stays within 3x of importing jinja2 + ruamel.yaml.

And issue 23, on repositories shaped like public DVC projects (several pipelines, `vars`, `foreach`
and `matrix` stages, data pointers, a few hundred files; adopted by `init --yes`, committed, then a
script edited and committed, as a pull request does):

4. `generate --check` cold (a fresh clone, as every CI check job is: no memo in .git, no compiled
   templates in the user's cache) at most 1.5x the floor of `python -c "import jinja2, ruamel.yaml"`;
   warm (the memo of the previous check, as the pre-commit hook runs it) at most 1.0x;
5. `changed --base HEAD~1` (after `validate`, the PR workflow's order) at most 1.5x.

Each is the median of runs alternated with the floor's, as wall time and as CPU time (the machine is
shared: CPU time moves less with the load). `--baseline REV` measures the tool of another commit
side by side (its own copy of each fixture, runs alternated), e.g. `--baseline HEAD~3`.

    .venv/bin/python benchmarks/bench_generate.py [--only-shapes] [--baseline REV] [--runs N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Measure the tool as an installed package runs: with bytecode caches (pip compiles them at install).
# Without them every run recompiles the package from source and the figures measure its size.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

PY = sys.executable
RUNS = 7
ROOT = Path(__file__).resolve().parents[1]
GOALS = {"cold": 1.5, "warm": 1.0, "changed": 1.5}


def wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def median(args: list[str], cwd: Path) -> float:
    wall(args, cwd)  # warm the OS file cache
    return statistics.median(wall(args, cwd) for _ in range(RUNS))


def example_project(root: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mlops_gitops.adapters.resources import examples_dir

    repo = root / "example"
    import shutil

    shutil.copytree(examples_dir() / "iris", repo)
    (repo / "mlops.example.yaml").rename(repo / "mlops.yaml")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(
        [PY, "-m", "mlops_gitops", "generate", "--force"], cwd=repo, check=True, capture_output=True
    )
    return repo


def big_manifest(root: Path) -> Path:
    repo = root / "big"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([str(Path(PY).with_name("dvc")), "init", "-q"], cwd=repo, check=True)
    lines = ["version: 1", "project: {name: big}", "stages:"]
    for i in range(200):
        lines += [
            f"  stage{i}:",
            f"    cmd: python step.py {i}",
            f"    deps: [step.py, data/in{i}.csv]",
            f"    params: [step.p{i}]",
            f"    outs: [out/{i}.bin]",
        ]
    lines += [
        "  final:",
        "    cmd: python final.py",
        "    outs: [model.pkl]",
        "    metrics:",
        "      - metrics.json:",
        "          cache: false",
    ]
    lines += ["metrics:", "  gates:", "    - {metric: accuracy, min: 0.5}"]
    lines += ["deploy:", "  model: {name: big, path: model.pkl}", "  environments:"]
    for i in range(20):
        after = f", after: [env{i - 1}]" if i else ""
        lines.append(
            f"    - {{name: env{i}, file: deploy/env{i}.yaml, field: spec.model, value: 's3://m/{{model_hash}}'{after}}}"
        )
    (repo / "mlops.yaml").write_text("\n".join(lines) + "\n")
    return repo


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only-shapes", action="store_true", help="only the real-shaped repositories")
    parser.add_argument("--baseline", metavar="REV", help="also measure the tool of this commit")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    shapes_ok = real_shapes(args.runs, args.baseline)
    if args.only_shapes:
        return 0 if shapes_ok else 1
    return 0 if issue_2() and shapes_ok else 1


def issue_2() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = example_project(root)
        baseline = median([PY, "-c", "import jinja2, ruamel.yaml"], repo)
        check = median([PY, "-m", "mlops_gitops", "generate", "--check"], repo)
        ratio = check / baseline
        print(
            f"generate --check on the example (after generate, as a pre-commit hook runs it): {check * 1000:.0f} ms;"
            f" import jinja2+ruamel.yaml: {baseline * 1000:.0f} ms; ratio {ratio:.2f} (target <= 3.00) "
            f"{'OK' if ratio <= 3 else 'MISSED'}"
        )
        # A fresh clone has no memo in .git: everything is validated and rendered.
        cold_runs = []
        for _ in range(RUNS):
            for memo in (repo / ".git").glob("mlops-gitops-*"):
                memo.unlink()
            cold_runs.append(wall([PY, "-m", "mlops_gitops", "generate", "--check"], repo))
        cold = statistics.median(cold_runs)
        print(
            f"generate --check with no memo (fresh clone: validate and render everything): {cold * 1000:.0f} ms;"
            f" ratio {cold / baseline:.2f} (target <= 3.00) {'OK' if cold / baseline <= 3 else 'MISSED'}"
        )
        # In the generated PR workflow `validate` runs first, so check finds the manifest validated.
        ci_runs = []
        for _ in range(RUNS):
            (repo / ".git" / "mlops-gitops-generated.json").unlink(missing_ok=True)
            ci_runs.append(wall([PY, "-m", "mlops_gitops", "generate", "--check"], repo))
        ci = statistics.median(ci_runs)
        print(
            f"generate --check after `validate` in a fresh clone (the PR workflow's order): {ci * 1000:.0f} ms;"
            f" ratio {ci / baseline:.2f} (target <= 3.00) {'OK' if ci / baseline <= 3 else 'MISSED'}"
        )
        ratio = max(ratio, cold / baseline)
        imported = subprocess.run(
            [PY, "-X", "importtime", "-m", "mlops_gitops", "generate", "--check"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stderr
        heavy = sorted(
            {line.split("|")[-1].strip().split(".")[0] for line in imported.splitlines()} & {"dvc", "github"}
        )
        print(f"heavy modules imported by generate --check: {heavy or 'none'} (target: none)")

        big = big_manifest(root)
        first = wall([PY, "-m", "mlops_gitops", "generate"], big)
        dvc_reads = median([str(Path(PY).with_name("dvc")), "stage", "list", "--all"], big)
        manifest = big / "mlops.yaml"
        text = manifest.read_text()
        edits = []
        for i in range(RUNS):  # a manifest change that leaves the pipeline alone: no DVC needed
            manifest.write_text(text.replace("min: 0.5", f"min: 0.{5 + i % 4}"))
            edits.append(wall([PY, "-m", "mlops_gitops", "generate"], big))
        edit = statistics.median(edits)
        again = median([PY, "-m", "mlops_gitops", "generate", "--check"], big)
        print(
            f"200 stages + 20 environments: generate after a manifest edit {edit * 1000:.0f} ms (target < 1000 ms, "
            f"ratio {edit:.2f}) {'OK' if edit < 1 else 'MISSED'}; generate --check median {again * 1000:.0f} ms"
        )
        print(
            f"200 stages, first generate (DVC resolves the new pipeline): {first * 1000:.0f} ms; "
            f"`dvc stage list --all` {dvc_reads * 1000:.0f} ms; ratio {first / dvc_reads:.2f} (target <= 2.00) "
            f"{'OK' if first / dvc_reads <= 2 else 'MISSED'}"
        )

        owned = hand_owned(root)
        hand_runs = []
        for _ in range(RUNS):
            for memo in (owned / ".git").glob("mlops-gitops-*"):
                memo.unlink()
            hand_runs.append(wall([PY, "-m", "mlops_gitops", "generate", "--check"], owned))
        hand = statistics.median(hand_runs)
        print(
            f"two hand-owned pipelines, generate --check in a fresh clone (record trusted, no DVC): "
            f"{hand * 1000:.0f} ms; ratio {hand / baseline:.2f} (target <= 3.00) {'OK' if hand / baseline <= 3 else 'MISSED'}"
        )
        return ratio <= 3 and edit < 1 and first / dvc_reads <= 2 and hand / baseline <= 3 and not heavy


def hand_owned(root: Path) -> Path:
    """tests/repos.py's two-pipeline repository, adopted (pipelines: [...]) and committed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.repos import two_pipelines

    repo = two_pipelines(root / "owned", reproduce=False).root
    subprocess.run([PY, "-m", "mlops_gitops", "init", "--yes"], cwd=repo, check=True, capture_output=True)
    return repo


# --- issue 23: repositories shaped like public DVC projects ------------------------------------------

EXTRA_MANIFEST = """metrics:
  gates:
    - {metric: accuracy, min: 0.8, regression: {absolute: 0.02}}
deploy:
  model: {name: best-model, path: MODEL}
  environments:
    - {name: staging, file: deploy/staging.yaml, field: spec.model, value: "s3://b/{model_hash}"}
    - {name: production, file: deploy/production.yaml, field: spec.model, value: "s3://b/{model_hash}", after: [staging]}
"""

REGIONS_PIPELINE = """vars:
  - params.yaml
stages:
  prepare:
    foreach: ${model.regions}
    do:
      cmd: python ../../src/NAME/prep.py ${item}
      deps: [../../src/NAME/prep.py, ../../data/NAME/raw.csv]
      outs:
        - prepared/${item}.csv
  train:
    cmd: python ../../src/NAME/train.py ${model.threshold}
    deps: [../../src/NAME/train.py, ../../src/common.py, prepared]
    params: [model.threshold]
    outs: [model.pkl]
    metrics:
      - metrics.json:
          cache: false
"""

GET_STARTED = """stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps: [data/data.xml, src/prepare.py]
    params: [prepare.seed, prepare.split]
    outs: [data/prepared]
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps: [data/prepared, src/featurization.py]
    params: [featurize.max_features, featurize.ngrams]
    outs: [data/features]
  train:
    cmd: python src/train.py data/features model.pkl
    deps: [data/features, src/train.py]
    params: [train.seed, train.n_est, train.min_split]
    outs: [model.pkl]
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps: [data/features, model.pkl, src/evaluate.py]
    outs:
      - eval/metrics.json:
          cache: false
      - eval/plots:
          cache: false
metrics: [eval/metrics.json]
plots:
  - eval/plots/prc.json: {x: recall, y: precision}
"""


def _pointer(path: str) -> str:
    import hashlib

    md5 = hashlib.md5(path.encode()).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: 1000\n  hash: md5\n  path: {path.rsplit('/', 1)[-1]}\n"


def _bulk(files: dict[str, str], packages: int = 12, modules: int = 240, docs: int = 40) -> None:
    """What a real repository holds besides its pipelines: code, tests, notebooks, docs."""
    for i in range(modules):
        files[f"src/pkg{i % packages}/mod{i}.py"] = f"def f{i}():\n    return {i}\n" * 5
    for i in range(docs):
        files[f"docs/page{i}.md"] = f"# page {i}\n"
    files["tests/test_smoke.py"] = "def test():\n    pass\n"
    files[".gitignore"] = "__pycache__/\n"


def shape_get_started() -> tuple[dict[str, str], str]:
    """DVC's get-started project: one root dvc.yaml of four stages, params.yaml, the raw data as a
    `.dvc` pointer, metrics and plots in an uncached folder."""
    files = {
        "dvc.yaml": GET_STARTED,
        "params.yaml": "prepare:\n  split: 0.2\n  seed: 20170428\nfeaturize:\n  max_features: 100\n"
        "  ngrams: 1\ntrain:\n  seed: 20170428\n  n_est: 50\n  min_split: 0.01\n",
        "data/data.xml.dvc": _pointer("data/data.xml"),
        "data/.gitignore": "/data.xml\n",
        "requirements.txt": "dvc\nscikit-learn\n",
    }
    for name in ("prepare", "featurization", "train", "evaluate"):
        files[f"src/{name}.py"] = "print(1)\n"
    _bulk(files)
    return files, "model.pkl"


def shape_monorepo() -> tuple[dict[str, str], str]:
    """Several pipelines in folders: three `foreach` over regions (vars from their params.yaml)
    and one with vars, `foreach`, `matrix` and `wdir` (tests/repos.py's templated pipeline), data
    pointers beside them."""
    sys.path.insert(0, str(ROOT))
    from tests.repos import TEMPLATED_DVC_YAML

    files = {
        "requirements.txt": "dvc>=3.0\nscikit-learn\n",
        "pipelines/grid/params.yaml": "featurise:\n  bins: 4\ntrain:\n  epochs: 200\n",
        "pipelines/grid/dvc.yaml": TEMPLATED_DVC_YAML,
        "pipelines/grid/data/raw.csv": "x,y\n1,2\n",
        "src/common.py": "X = 1\n",
    }
    for name in ("featurise", "split", "train", "select_best", "evaluate"):
        files[f"pipelines/grid/src/{name}.py"] = "print(1)\n"
    for name in ("churn", "fraud", "ranking"):
        files[f"pipelines/{name}/params.yaml"] = "model:\n  threshold: 60\n  regions: [eu, us, apac]\n"
        files[f"pipelines/{name}/dvc.yaml"] = REGIONS_PIPELINE.replace("NAME", name)
        files[f"data/{name}/raw.csv"] = "x,y\n1,2\n"
        files[f"src/{name}/prep.py"] = "print(1)\n"
        files[f"src/{name}/train.py"] = "print(1)\n"
    for i in range(6):
        files[f"data/ext/set{i}.csv.dvc"] = _pointer(f"data/ext/set{i}.csv")
    _bulk(files)
    return files, "pipelines/grid/models/best.json"


def shape_matrix() -> tuple[dict[str, str], str]:
    """One root pipeline of templated stages (vars, `foreach` over dicts, a `matrix` grid, `wdir`,
    top-level metrics, plots and artifacts) in a larger code base."""
    sys.path.insert(0, str(ROOT))
    from tests.repos import TEMPLATED_DVC_YAML

    files = {
        "dvc.yaml": TEMPLATED_DVC_YAML,
        "params.yaml": "featurise:\n  bins: 4\ntrain:\n  epochs: 200\n",
        "data/raw.csv": "x,y\n1,2\n",
        "requirements.txt": "dvc>=3.0\n",
    }
    for name in ("featurise", "split", "train", "select_best", "evaluate"):
        files[f"src/{name}.py"] = "print(1)\n"
    _bulk(files, packages=20, modules=360, docs=60)
    return files, "models/best.json"


SHAPES = {"get-started": shape_get_started, "monorepo": shape_monorepo, "matrix": shape_matrix}


def build_shape(root: Path, name: str, env: dict[str, str]) -> Path:
    """The shape adopted by `init --yes` with the tool of ``env`` (gates and two environments
    added), committed; then a script edited and committed, as a pull request does."""
    sys.path.insert(0, str(ROOT))
    from tests import repos

    files, model = SHAPES[name]()
    repos.init(root)
    repos.write(root, files)
    repos.commit(root, f"{name}: the project")
    for args in (["init", "--yes"], ["generate"]):
        proc = subprocess.run(
            [PY, "-m", "mlops_gitops", *args], cwd=root, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if args[0] == "init":
            with open(root / "mlops.yaml", "a", encoding="utf-8") as handle:
                handle.write(EXTRA_MANIFEST.replace("MODEL", model))
    repos.commit(root, "adopted by mlops-gitops")
    script = next(p for p in sorted(files) if p.startswith("src/") and p.endswith("train.py"))
    (root / script).write_text("print(2)\n")
    repos.commit(root, "a change to the training script")
    return root


def timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the process and what it waited for), exit code."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False).returncode
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, code


def tool_env(code: Path | None, cache: Path) -> dict[str, str]:
    """The environment that runs the tool of ``code`` (a copy of a commit's package; None: this
    checkout) with ``cache`` as the user's cache (where compiled templates are kept)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def export(rev: str, into: Path) -> Path:
    """The package and templates of commit ``rev``, as files (git archive)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "mlops_gitops", "templates"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def real_shapes(runs: int, baseline: str | None) -> bool:
    """Issue 23's goals on each shape: cold and warm `generate --check`, `changed`; with
    ``baseline``, the same for the tool of that commit, every run alternated with the others."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tools: dict[str, Path | None] = {"now": None}
        if baseline:
            tools[baseline] = export(baseline, root / "baseline")
        samples: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        floors: list[tuple[float, float]] = []
        warm_cache = root / "warm-cache"
        repos_of = {
            (tool, shape): build_shape(
                root / tool.replace("~", "_") / shape, shape, tool_env(code, warm_cache)
            )
            for tool, code in tools.items()
            for shape in SHAPES
        }
        for run in range(runs + 1):  # the first round warms the OS file cache and writes .pyc files
            floor = timed([PY, "-c", "import jinja2, ruamel.yaml"], root)
            floors += [floor[:2]] if run else []
            for (tool, shape), repo in repos_of.items():
                env = tool_env(tools[tool], warm_cache)
                for memo in (repo / ".git").glob("mlops-gitops-*"):
                    memo.unlink()
                cold_cache = root / f"cold-{run}-{tool.replace('~', '_')}-{shape}"
                measured = {
                    "cold": timed(
                        [PY, "-m", "mlops_gitops", "generate", "--check"],
                        repo,
                        tool_env(tools[tool], cold_cache),
                    ),
                    "warm": timed([PY, "-m", "mlops_gitops", "generate", "--check"], repo, env),
                }
                timed([PY, "-m", "mlops_gitops", "validate"], repo, env)
                measured["changed"] = timed(
                    [PY, "-m", "mlops_gitops", "changed", "--base", "HEAD~1"], repo, env
                )
                for what, (wall_s, cpu_s, code) in measured.items():
                    assert code == 0, f"{tool} {shape} {what}: exit {code}"
                    if run:
                        samples.setdefault((tool, shape, what), []).append((wall_s, cpu_s))
        floor_wall = statistics.median(f[0] for f in floors)
        floor_cpu = statistics.median(f[1] for f in floors)
        print(
            f"\nissue 23: floor `import jinja2, ruamel.yaml` {floor_wall * 1000:.0f} ms wall, "
            f"{floor_cpu * 1000:.0f} ms CPU (medians of {runs}, alternated with every run below)"
        )
        ok = True
        for (tool, shape, what), values in samples.items():
            wall_s = statistics.median(v[0] for v in values)
            cpu_s = statistics.median(v[1] for v in values)
            ratio, cpu_ratio, goal = wall_s / floor_wall, cpu_s / floor_cpu, GOALS[what]
            # Both ratios meet the goal: OK; only one (the load moved the other): said which.
            verdict = {
                (True, True): "OK",
                (True, False): "OK by wall time only",
                (False, True): "OK by CPU time only",
                (False, False): "MISSED",
            }[(ratio <= goal, cpu_ratio <= goal)]
            ok = ok and (verdict != "MISSED" or tool != "now")
            print(
                f"  [{tool}] {shape:11s} {what:7s} {wall_s * 1000:5.0f} ms wall ({ratio:.2f}x), "
                f"{cpu_s * 1000:5.0f} ms CPU ({cpu_ratio:.2f}x); goal <= {goal:.1f}x {verdict}"
            )
        return ok


if __name__ == "__main__":
    raise SystemExit(main())
