"""Security finding 7, YAML bombs, proven through every command that reads YAML.

A pull request (or a data file, or a deployment repository) can carry a recursive alias
(``a: &a [*a]``: RecursionError) or a "billion laughs" document (ten levels of nine aliases: ~3.5e9
nodes once expanded, 300 bytes of text). Each test plants one of them in one file a command reads,
runs the command as a user does (``python -m mlops_gitops`` in a real Git + DVC repository), and
asserts the refusal: exit 2, one line on stderr naming the file (``FILE[@REV]:LINE:COL: ...``), no
traceback, in a few CPU seconds, inside a 2 GiB address-space limit under which an expansion
would die rather than eat the machine (``test_every_command_runs_normally_under_the_same_limits``
shows the limit is not what makes the refusals). tests/test_yamlsafe.py covers the guard itself.

The matrix (``CASES``) lists, per command, every YAML file that command reads, where it reads it
(the work tree, the base revision, the head revision, the history of the base branch) and what makes
the command reach it (a file DVC has to pull, no committed record so DVC resolves the pipelines).
"""

from __future__ import annotations

import fcntl
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import repos


def billion_laughs(levels: int = 10, width: int = 9) -> str:
    lines = ["l0: &l0 lol"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


BOMBS = {"recursive": "a: &a [*a]\n", "laughs": billion_laughs()}


def in_vars(bomb: str) -> str:
    """A dvc.yaml carrying ``bomb`` where DVC's schema lets it through and DVC then walks it: an inline
    ``vars`` entry (without the guard, DVC alone spins on the billion laughs past any timeout)."""
    first, *rest = bomb.splitlines()
    entry = "vars:\n  - " + first + "\n" + "".join(f"    {line}\n" for line in rest)
    return entry + "stages:\n  s:\n    cmd: echo ${l0}\n"


REFUSALS = {
    "recursive": "recursive alias *a (a YAML alias may not contain itself)",
    "laughs": 'aliases expand to more than 100,000 nodes (a "billion laughs" document)',
}
MEMORY_LIMIT = 2 * 1024**3  # address space: DVC, pyarrow and scipy load well within it
TIMEOUT = 20  # a bomb that expands dies here (or at the memory limit) instead of hanging the suite
# CPU seconds, not wall: the guard takes milliseconds and the rest is start-up and importing DVC, but
# under a loaded CI machine (two test workers beside act runs) the wall clock of the same work has
# been seen at 9 s while its CPU time stays near 1.5 s. An expanding bomb burns CPU, so it still shows.
CPU_LIMIT = 5.0

# --------------------------------------------------------------------------------------------------
# The repository every command runs in: hand-owned pipelines (`pipelines:`) with vars (top level and a
# stage's own, relative to its wdir), a data pointer, a dvc.lock, YAML metrics, data checks,
# monitoring and two deployment environments; a local DVC remote.

MANIFEST = """\
version: 1
project: {name: bombs}
pipelines: [dvc.yaml]
python: {requirements: [requirements.txt]}
metrics:
  gates:
    - {metric: acc, min: 0.5}
data:
  checks:
    - path: data/train.csv
      columns: {x: {type: int}}
monitoring:
  logs: logs.csv
  baseline: baseline.csv
deploy:
  model: {name: m, path: model.pkl}
  environments:
    - {name: staging, file: deploy/staging.yaml, field: spec.model, value: 's3://m/{model_hash}'}
    - name: production
      file: deploy/production.yaml
      field: spec.model
      value: 's3://m/{model_hash}'
      after: [staging]
"""

DVC_YAML = """\
vars:
  - config/vars.yaml
stages:
  collect:
    cmd: python collect.py
    deps: [collect.py]
    outs:
      - logs.csv: {cache: false}
  prepare:
    wdir: src
    vars:
      - stage.yaml
    cmd: python prepare.py ${split}
    deps: [prepare.py]
    outs: [../data/prepared.csv]
  train:
    cmd: python train.py ${epochs}
    deps: [train.py, data/train.csv, data/prepared.csv, data/raw.csv]
    params: [lr]
    outs: [model.pkl]
    metrics:
      - metrics.yaml: {cache: false}
"""

FILES = {
    "dvc.yaml": DVC_YAML,
    "params.yaml": "lr: 0.1\n",
    "config/vars.yaml": "epochs: 3\n",
    "src/stage.yaml": "split: 0.2\n",
    "data/raw.csv": "x\n7\n",  # tracked by data/raw.csv.dvc (`dvc add`)
    "data/train.csv": "x\n1\n2\n3\n",
    "data/prepared.csv": "x\n1\n2\n",
    "model.pkl": "a model\n",
    "logs.csv": "x\n1\n2\n3\n",
    "baseline.csv": "x\n1\n2\n3\n",
    "metrics.yaml": "acc: 0.9\n",
    "requirements.txt": "\n",
    "collect.py": "print('collect')\n",
    "src/prepare.py": "print('prepare')\n",
    "train.py": "print('train')\n",
    "deploy/staging.yaml": "spec:\n  model: s3://m/old\n",
    "deploy/production.yaml": "spec:\n  model: s3://m/old\n",
}

# A stage written in mlops.yaml (`stages:`): generate merges it into the existing dvc.yaml.
MANAGED_MANIFEST = """\
version: 1
project: {name: managed}
python: {requirements: [requirements.txt]}
stages:
  score:
    cmd: python train.py --score
    deps: [train.py, model.pkl]
    metrics:
      - scores.json: {cache: false}
"""

MEMOS = (
    ".git/mlops-gitops-generated.json",
    ".git/mlops-gitops-facts.json",
    ".git/mlops-gitops-valid.json",
    ".git/mlops-gitops-plots",
)


def mlops(root: Path, *args: str) -> tuple[int, str, str, float]:
    """Run ``mlops-gitops ARGS`` in ``root`` as a user does, under the memory and time limits; the
    float is the CPU seconds it and its subprocesses (``dvc init`` under ``init``) spent."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        XDG_CACHE_HOME=str(root.parent / "cache"),  # where a crash log would go: not the user's
        OPENBLAS_NUM_THREADS="1",  # per-thread arenas count against the address-space limit
        OMP_NUM_THREADS="1",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=limit_memory,  # the limit applies to the command only, not to pytest
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and every process it waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, proc.stdout, proc.stderr, cpu


def build_project(root: Path) -> None:
    """The project before mlops-gitops: its data tracked and its pipeline committed by DVC (so
    dvc.lock and the cache hold what was produced), with a local remote."""
    repos.init(root)
    repos.write(root, FILES)
    repos.dvc(root, "add", "-q", "data/raw.csv")
    repos.dvc(root, "commit", "-f", "-q")
    shutil.rmtree(root / ".dvc/cache/runs")  # no run records: push-runs has none to push either
    repos.dvc(root, "remote", "add", "-d", "store", "../remote")
    repos.commit(root, "the project")


def adopt(root: Path, manifest: str) -> None:
    build_project(root)
    (root / "mlops.yaml").write_text(manifest)
    code, out, err, _ = mlops(root, "generate")
    assert code == 0, out + err
    repos.commit(root, "mlops-gitops")
    code, out, err, _ = mlops(root, "generate", "--check")  # leaves the memo the fast path answers from
    assert code == 0 and "current" in out, out + err


BUILDERS = {
    "adopted": lambda root: adopt(root, MANIFEST),
    "managed": lambda root: adopt(root, MANAGED_MANIFEST),
    "adoptable": build_project,  # what `init` adopts
}


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each repository shape, built once per test session (by the first worker that needs them, the
    others wait); each test works on a copy."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = shared / "yaml-bomb-templates"
    with open(shared / "yaml-bomb-templates.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "built").exists():
            shutil.rmtree(home, ignore_errors=True)
            for name, build in BUILDERS.items():
                build(home / name / "repo")
            (home / "built").touch()
    return {name: home / name / "repo" for name in BUILDERS}


def copy_of(templates: dict[str, Path], name: str, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(templates[name], root, symlinks=True)
    return root


# --------------------------------------------------------------------------------------------------
# The matrix: command x file x where it is read.


@dataclass(frozen=True)
class Case:
    repo: str  # adopted | managed | adoptable
    args: tuple[str, ...]
    file: str  # where the bomb is planted
    at: str = "workspace"  # workspace | base: committed at HEAD~1 only | head: committed at HEAD only
    append: bool = False  # the file keeps its content (so the command still reaches it), bomb after it
    remove: tuple[str, ...] = ()  # deleted first: data that DVC then has to pull
    fresh: bool = False  # no committed record and no memo in .git: DVC resolves the pipelines itself
    no_dvc: bool = False  # no .dvc directory yet: init runs `dvc init`, then `dvc add` (subprocesses)

    @property
    def id(self) -> str:
        where = "" if self.at == "workspace" else f"@{self.at}"
        how = "+fresh" if self.fresh else "+no-dvc" if self.no_dvc else ""
        repo = "" if self.repo in ("adopted", "adoptable") else f" ({self.repo})"
        return f"{' '.join(self.args)}{repo} [{self.file}{where}{how}]"


# A run-cache record, as `dvc repro` leaves them: .dvc/cache/runs/<key[:2]>/<key>/<value>.
RUN_RECORD = ".dvc/cache/runs/ab/" + "ab" + "c" * 62 + "/" + "d" * 64


def cases() -> list[Case]:
    out: list[Case] = []
    add = out.append

    # validate: the manifest is all it reads.
    add(Case("adopted", ("validate",), "mlops.yaml"))

    # generate and generate --check (from a repository whose --check memo is warm: the fast path must
    # notice the change and take the full path). Our own reads: the manifest, the governed dvc.yaml and
    # what its vars load (the fingerprint), the committed record. DVC's reads: a new dvc.yaml or .dvc
    # file anywhere in the repository, a stage's vars relative to its wdir (read by DVC only, so with
    # no record for the facts to come from).
    for args in (("generate",), ("generate", "--check")):
        for file in ("mlops.yaml", "dvc.yaml", "params.yaml", "config/vars.yaml", ".mlops/pipelines.yaml"):
            add(Case("adopted", args, file))
        add(Case("adopted", args, "evil/dvc.yaml"))
        add(Case("adopted", args, "evil.csv.dvc"))
        add(Case("adopted", args, "src/stage.yaml", fresh=True))
        add(Case("managed", args, "dvc.yaml"))  # the existing dvc.yaml the manifest's stages merge into
    # A hand-edited generated workflow: generate explains the edit from the parsed file.
    add(Case("adopted", ("generate",), ".github/workflows/mlops-pr.yml", append=True))

    # changed: the project (file names between revisions come from git diff, never parsed).
    for file in ("mlops.yaml", "dvc.yaml", "params.yaml", "config/vars.yaml", ".mlops/pipelines.yaml"):
        add(Case("adopted", ("changed", "--base", "HEAD"), file))
    add(Case("adopted", ("changed", "--base", "HEAD"), "evil/dvc.yaml"))
    add(Case("adopted", ("changed", "--base", "HEAD"), "src/stage.yaml", fresh=True))
    add(Case("managed", ("changed", "--base", "HEAD"), "dvc.yaml"))

    # report: the project; then at each revision (git objects) params, dvc.lock, metrics and the
    # .dvc pointers; the metrics of earlier base-branch commits for the charts (history).
    report = ("report", "--base", "HEAD")
    for file in ("mlops.yaml", "dvc.yaml", "config/vars.yaml", ".mlops/pipelines.yaml", "evil/dvc.yaml"):
        add(Case("adopted", report, file))
    for file in ("params.yaml", "dvc.lock", "metrics.yaml", "data/raw.csv.dvc"):
        add(Case("adopted", report, file))  # head: the work tree
        add(Case("adopted", ("report", "--base", "HEAD~1"), file, at="base"))
        add(Case("adopted", ("report", "--base", "HEAD~1", "--head", "HEAD"), file, at="head"))
    add(Case("adopted", report, "metrics.yaml", at="base"))  # HEAD~1 is in the base's history
    add(Case("adopted", ("report", "--base", "HEAD~1"), "mlops.yaml", at="base"))  # the base's gates

    # promote --dry-run: the project, dvc.lock and the metrics at the model's commit, the deployment
    # file, and the file of the environment it must already run in.
    promote = ("promote", "--env", "staging", "--dry-run")
    for file in ("mlops.yaml", "dvc.yaml", ".mlops/pipelines.yaml", "deploy/staging.yaml"):
        add(Case("adopted", promote, file))
    for file in ("dvc.lock", "metrics.yaml", "params.yaml"):
        add(Case("adopted", promote, file, at="head"))
    add(Case("adopted", ("promote", "--env", "production", "--dry-run"), "deploy/staging.yaml"))

    # init --yes: what DVC resolves of the existing pipelines (every dvc.yaml, .dvc file and vars
    # file), the manifest it starts from, and (no .dvc yet) what `dvc add` reads: dvc.lock.
    for file in ("dvc.yaml", "params.yaml", "config/vars.yaml", "src/stage.yaml", "evil/dvc.yaml"):
        add(Case("adoptable", ("init", "--yes"), file))
    add(Case("adoptable", ("init", "--yes"), "data/raw.csv.dvc"))
    add(Case("adoptable", ("init", "--yes"), "mlops.example.yaml"))
    add(Case("adoptable", ("init", "--yes", "--force"), "mlops.yaml"))
    add(Case("adoptable", ("init", "--yes"), "dvc.lock", no_dvc=True))

    # validate-data and monitor: the manifest; then, for data missing from the work tree, what DVC
    # reads to pull it (the pointer, or every dvc.yaml, dvc.lock and params file for a stage's data).
    add(Case("adopted", ("validate-data",), "mlops.yaml"))
    add(Case("adopted", ("validate-data",), "data/train.csv.dvc", remove=("data/train.csv",)))
    add(Case("adopted", ("validate-data",), "dvc.lock", append=True, remove=("data/train.csv",)))
    for file in ("dvc.yaml", "params.yaml", "src/stage.yaml", "evil/dvc.yaml"):
        add(Case("adopted", ("validate-data",), file, remove=("data/train.csv",)))
    monitor = ("monitor", "--no-github")
    add(Case("adopted", monitor, "mlops.yaml"))
    add(Case("adopted", monitor, "baseline.csv.dvc", remove=("baseline.csv",)))
    add(Case("adopted", monitor, "dvc.lock", append=True, remove=("logs.csv",)))
    add(Case("adopted", monitor, "params.yaml", remove=("logs.csv",)))

    # push-runs: DVC's index of the repository, and the run-cache records it pushes objects for.
    for file in ("dvc.yaml", "dvc.lock", "params.yaml", "config/vars.yaml", "src/stage.yaml"):
        add(Case("adopted", ("push-runs",), file))
    add(Case("adopted", ("push-runs",), "data/raw.csv.dvc"))
    add(Case("adopted", ("push-runs",), "evil/dvc.yaml"))
    add(Case("adopted", ("push-runs",), RUN_RECORD))
    return out


def plant(root: Path, case: Case, bomb: str) -> str | None:
    """Put ``bomb`` where ``case`` says; the short SHA of the commit holding it, if committed."""
    path = root / case.file
    good = path.read_text() if path.is_file() else None
    if path.name == "dvc.yaml":
        bomb = in_vars(bomb)
    text = (good or "") + bomb if case.append else bomb

    def restore() -> None:
        if good is None:
            path.unlink()
        else:
            path.write_text(good)

    for rel in case.remove:
        (root / rel).unlink()
    if case.fresh:
        for rel in (".mlops/pipelines.yaml", *MEMOS):
            if (root / rel).is_dir():
                shutil.rmtree(root / rel)
            else:
                (root / rel).unlink(missing_ok=True)
    if case.no_dvc:
        shutil.rmtree(root / ".dvc")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if case.at == "workspace":
        return None
    sha = repos.commit(root, "a bomb")[:7]
    restore()
    if case.at == "base":
        repos.commit(root, "the bomb removed")
    return sha


CASES = cases()


@pytest.mark.parametrize("bomb", list(BOMBS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_yaml_a_command_reads_refuses_bombs(
    case: Case, bomb: str, templates: dict[str, Path], tmp_path: Path
) -> None:
    root = copy_of(templates, case.repo, tmp_path)
    sha = plant(root, case, BOMBS[bomb])

    code, out, err, seconds = mlops(root, *case.args)

    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}\n{out}\n{err}"
    lines = err.splitlines()
    assert len(lines) == 1, err
    (line,) = lines
    assert re.match(rf"{re.escape(case.file)}(@[0-9a-f]{{7}})?:\d+:\d+: ", line), line
    assert REFUSALS[bomb] in line
    if sha is not None:
        assert sha in line, f"the revision holding the bomb is not named: {line}"
    assert seconds < CPU_LIMIT, f"{seconds:.1f} CPU s: {line}"


CONTROLS = [
    ("adopted", ("validate",)),
    ("adopted", ("generate",)),
    ("adopted", ("generate", "--check")),
    ("adopted", ("changed", "--base", "HEAD")),
    ("adopted", ("report", "--base", "HEAD")),
    ("adopted", ("promote", "--env", "staging", "--dry-run")),
    ("adopted", ("validate-data",)),
    ("adopted", ("monitor", "--no-github")),
    ("adopted", ("push-runs",)),
    ("managed", ("generate", "--check")),
    ("adoptable", ("init", "--yes")),
]


@pytest.mark.parametrize(("repo", "args"), CONTROLS, ids=[" ".join(a) for _, a in CONTROLS])
def test_every_command_runs_normally_under_the_same_limits(
    repo: str, args: tuple[str, ...], templates: dict[str, Path], tmp_path: Path
) -> None:
    """Without a bomb each command succeeds under the same memory limit and time budget (DVC,
    pyarrow and scipy import within it), so the refusals above are the guard's, not the limit's."""
    root = copy_of(templates, repo, tmp_path)
    code, out, err, seconds = mlops(root, *args)
    assert code == 0, out + err
    assert "Traceback" not in out + err
    assert seconds < CPU_LIMIT
