"""The record's stamp (generation.stamp): in a fresh clone (no memo in .git) `generate --check` answers
from hashes only when the full path would answer the same, and takes the full path on every change
that could change what is generated. Each test checks the answer twice: as a user gets it (stamp
first) and from the full path alone, on real Git repositories (tests/repos.py's two pipelines adopted
by `init --yes`, and the bundled example, whose manifest owns dvc.yaml)."""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_gitops.adapters import files
from mlops_gitops.adapters.files import parse_header, stamp_of, with_stamp
from mlops_gitops.adapters.resources import PACKAGE_DIR, examples_dir, templates_dir
from mlops_gitops.generation import stamp
from mlops_gitops.generation.generate import Generated, build_plan, generate
from mlops_gitops.pipeline import fingerprint, record
from mlops_gitops.pipeline.fingerprint import WorkTree
from tests import repos
from tests.actrunner import generate_with, tool_files

WORKFLOWS = ".github/workflows"
PR = f"{WORKFLOWS}/mlops-pr.yml"
TRAIN = f"{WORKFLOWS}/mlops-train.yml"
RECORD = record.RECORD_FILE


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hand-owned pipelines adopted by `init --yes` and committed: a fresh clone's state."""
    root = repos.two_pipelines(tmp_path_factory.mktemp("stamp") / "two", reproduce=False).root
    repos.write(root, {"data/raw.csv.dvc": POINTER.format(md5="a" * 32)})
    repos.commit(root, "a data pointer")
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "init", "--yes", "--dir", str(root)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repos.commit(root, "adopted")
    return root


POINTER = "outs:\n- md5: {md5}\n  size: 10\n  hash: md5\n  path: raw.csv\n"


@pytest.fixture
def repo(adopted: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "two"
    shutil.copytree(adopted, copy, symlinks=True)
    forget(copy)
    return copy


@pytest.fixture
def owned(tmp_path: Path) -> Path:
    """The bundled example: the manifest owns dvc.yaml (merged with hand-written stages)."""
    root = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", root)
    (root / "mlops.example.yaml").rename(root / "mlops.yaml")
    repos.git(root, "init", "-q", "-b", "main")
    assert generate(root).exit_code == 0
    forget(root)
    return root


def forget(root: Path) -> None:
    """A fresh clone: no memo in .git."""
    for memo in (root / ".git").glob("mlops-gitops-*"):
        memo.unlink()


def full_path(root: Path, monkeypatch: pytest.MonkeyPatch) -> Generated:
    """The check as it was before the stamp: validate, resolve, render, compare."""
    with monkeypatch.context() as patch:
        patch.setattr(stamp, "current", lambda root, tree: None)
        return generate(root, check=True)


def check(root: Path, monkeypatch: pytest.MonkeyPatch) -> Generated:
    """`generate --check` in a fresh clone, asserted to answer as the full path does."""
    forget(root)
    answer = generate(root, check=True)
    forget(root)
    reference = full_path(root, monkeypatch)
    forget(root)
    assert (answer.exit_code, answer.lines()) == (reference.exit_code, reference.lines())
    return answer


def commit(root: Path, message: str) -> None:
    repos.commit(root, message)


# --- answered by hashing ----------------------------------------------------------------------------


def test_a_fresh_clone_is_answered_from_the_stamp_without_jsonschema_jinja_or_ruamel(repo: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from mlops_gitops.generation.generate import generate;"
        "r = generate(Path(sys.argv[1]), check=True);"
        "print(r.stamped, r.exit_code, sorted(m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in ('jsonschema', 'jinja2', 'ruamel', 'dvc', 'github')))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True)
    assert proc.stdout.strip() == "True 0 []", proc.stdout + proc.stderr
    # Then the memo is there: the next check is answered from it.
    assert generate(repo, check=True).remembered


def test_a_data_update_and_a_dependabot_bump_stay_on_the_fast_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "data/raw.csv.dvc").write_text(POINTER.format(md5="b" * 32))  # `dvc add` of new data
    pr = repo / PR
    line = next(x for x in pr.read_text().splitlines() if "uses: actions/checkout@" in x)
    bumped = line.split("@")[0] + "@" + "0" * 40 + " # v9.0.0"
    pr.write_text(pr.read_text().replace(line, bumped))
    commit(repo, "new data, checkout bumped")
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 0 and answer.stamped


def test_a_params_value_costs_a_fingerprint_not_the_full_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value is read by the script, not by dvc.yaml's structure: the sources' digest differs, the
    fingerprint does not; nothing is rendered and nothing needs DVC."""
    (repo / "pipelines/churn/params.yaml").write_text("train:\n  threshold: 21\n")
    dvcfile = repo / "pipelines/fraud/dvc.yaml"
    dvcfile.write_text(dvcfile.read_text().replace("${model.threshold}", "${model.threshold} --fast"))
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 0 and answer.stamped


# --- every way the fast path must fall back ------------------------------------------------------------


def test_a_hand_edit_of_a_workflow_fails_even_with_its_hash_recomputed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pr = repo / PR
    parsed = parse_header(pr.read_text())
    assert parsed is not None
    body = parsed.body.replace("timeout-minutes: 30", "timeout-minutes: 5", 1)
    assert body != parsed.body
    pr.write_text(files.with_header(body))  # the header's hash agrees with the edited body
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 1 and not answer.stamped
    assert f"{PR}: stale" in answer.lines()


def test_a_plain_hand_edit_and_an_edited_record_fail(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = repo / TRAIN
    train.write_text(train.read_text().replace("timeout-minutes: 30", "timeout-minutes: 5", 1))
    rec = repo / RECORD
    rec.write_text(rec.read_text().replace('"dvcfile"', '"dvcfile" ', 1))
    lines = check(repo, monkeypatch).lines()
    assert f"{TRAIN}: was edited by hand" in lines and f"{RECORD}: was edited by hand" in lines


def test_a_pin_moved_below_the_tables_version_is_not_a_bump(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`choose` keeps a moved pin unless the tool's is strictly newer: the full path puts it back."""
    pr = repo / PR
    line = next(x for x in pr.read_text().splitlines() if "uses: actions/checkout@" in x)
    older = line.split("@")[0] + "@" + "0" * 40 + " # v1.0.0"
    pr.write_text(pr.read_text().replace(line, older))
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 1 and f"{PR}: stale" in answer.lines()


@pytest.mark.parametrize(
    "edit",
    ["comment", "gate"],
)
def test_any_manifest_change_takes_the_full_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    manifest = repo / "mlops.yaml"
    added = "# a note\n" if edit == "comment" else "runners:\n  default:\n    timeout_minutes: 45\n"
    manifest.write_text(manifest.read_text() + added)
    answer = check(repo, monkeypatch)
    assert not answer.stamped
    assert answer.exit_code == (0 if edit == "comment" else 1)


def test_a_pipeline_change_that_changes_what_is_generated_fails(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dvcfile = repo / "pipelines/churn/dvc.yaml"
    dvcfile.write_text(dvcfile.read_text().replace("- src/common.py", "- src/common.py\n      - README.md"))
    (repo / "README.md").write_text("docs\n")
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 1 and not answer.stamped
    assert any(line.startswith(f"{RECORD}: stale") for line in answer.lines())


@pytest.mark.parametrize("what", ["a new pipeline", "a new pointer"])
def test_a_new_dvc_file_takes_the_full_path(repo: Path, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    if what == "a new pipeline":
        repos.write(repo, {"pipelines/extra/dvc.yaml": "stages:\n  a:\n    cmd: echo\n    deps: [x.txt]\n"})
    else:
        repos.write(repo, {"data/more.csv.dvc": POINTER.format(md5="c" * 32).replace("raw", "more")})
    answer = check(repo, monkeypatch)
    assert not answer.stamped


def test_a_missing_or_an_extra_generated_workflow_fails(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / TRAIN).unlink()
    assert check(repo, monkeypatch).exit_code == 1
    repos.git(repo, "checkout", "--", TRAIN)
    shutil.copy(repo / PR, repo / WORKFLOWS / "mlops-old.yml")  # ours, no longer produced
    answer = check(repo, monkeypatch)
    assert (
        answer.exit_code == 1
        and f"{WORKFLOWS}/mlops-old.yml: no longer produced by mlops.yaml" in answer.lines()
    )
    (repo / WORKFLOWS / "mlops-old.yml").write_text("name: mine\non: push\n")  # not ours: ignored
    assert check(repo, monkeypatch).stamped


def test_an_input_that_becomes_a_folder_takes_the_full_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder input is also a `folder/**` trigger pattern: what exists is part of what renders."""
    target = repo / "src/common.py"
    target.unlink()
    target.mkdir()
    (target / "x.py").write_text("")
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 1 and not answer.stamped


def test_another_tool_or_another_install_takes_the_full_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(fingerprint, "tool_content", lambda: "another build of the tool")
        assert not generate(repo, check=True).stamped
    forget(repo)
    with monkeypatch.context() as patch:  # installed from elsewhere: CI would install another source
        patch.setattr(
            stamp, "installed_direct_url", lambda: '{"url": "https://elsewhere", "archive_info": {}}'
        )
        assert not generate(repo, check=True).stamped
    forget(repo)
    assert generate(repo, check=True).stamped


@pytest.mark.parametrize("damage", ["removed", "not json", "forged check"])
def test_a_damaged_stamp_takes_the_full_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    rec = repo / RECORD
    text = rec.read_text()
    found = stamp_of(text)
    assert found is not None
    if damage == "removed":
        rec.write_text(files.without_stamp(text))
    elif damage == "not json":
        rec.write_text(text.replace(files.STAMP_PREFIX + "{", files.STAMP_PREFIX + "{{"))
    else:
        rec.write_text(with_stamp(text, {**found, "check": "0" * 64}))
    answer = check(repo, monkeypatch)
    assert answer.exit_code == 0 and not answer.stamped  # the stamp is never a reason to fail


def test_no_git_folder_takes_the_full_path(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(repo / ".git")
    assert not generate(repo, check=True).stamped


def test_a_version_change_of_the_tool_fails_the_check(tmp_path: Path, repo: Path) -> None:
    """The installed tool as files: generate with it, then bump its version (a new release)."""
    site = tmp_path / "site"
    gen = functools.partial(generate_with, tool_files(site), repo)
    assert gen().returncode == 0
    forget(repo)
    assert gen("--check").stdout == "generated files are current\n"
    init = site / "mlops_gitops" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "9.', 1))
    forget(repo)
    proc = gen("--check")
    assert proc.returncode == 1 and f"{PR}: stale" in proc.stdout, proc.stdout + proc.stderr


# --- the manifest owns dvc.yaml --------------------------------------------------------------------


def test_owned_dvc_yaml_hand_written_stage_and_managed_edit(
    owned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check(owned, monkeypatch).stamped
    dvc = owned / "dvc.yaml"
    text = dvc.read_text()
    dvc.write_text(text + "  report:\n    cmd: python report.py\n    deps: [metrics.json]\n")
    answer = check(owned, monkeypatch)
    assert not answer.stamped  # a hand-written stage: the full path says whether it changes anything
    dvc.write_text(text.replace("python src/train.py", "python src/train.py --fast"))
    answer = check(owned, monkeypatch)
    assert answer.exit_code == 1 and "dvc.yaml: was edited by hand" in answer.lines()


# --- generate keeps the stamp without noise ---------------------------------------------------------


def test_generate_writes_a_stamp_once_and_leaves_a_stale_one_alone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = repo / RECORD
    text = rec.read_text()
    rec.write_text(files.without_stamp(text))
    assert generate(repo).lines() == [f"updated {RECORD}"]  # an unstamped record gets one
    assert stamp_of(rec.read_text()) is not None
    (repo / "pipelines/churn/params.yaml").write_text("train:\n  threshold: 21\n")
    before = rec.read_text()
    with monkeypatch.context() as patch:
        patch.setattr(fingerprint, "tool_content", lambda: "another build of the tool")
        assert generate(repo).lines() == ["generated files are current"]  # no diff for a stamp
    assert rec.read_text() == before


def test_a_check_never_calls_a_file_stale_for_its_stamp(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(fingerprint, "tool_content", lambda: "another build of the tool")
        the_plan, _ = build_plan(repo, writing=False)
    assert {a.op for a in the_plan.actions} == {"unchanged"}


def test_the_record_constant_and_the_header_line(repo: Path) -> None:
    assert stamp.RECORD == record.RECORD_FILE
    text = (repo / RECORD).read_text()
    assert record.parse(text) is not None  # the record reads as before
    head = text.split("\n{", 1)[0].splitlines()
    assert head[-2].startswith(files.STAMP_PREFIX) and head[-1].startswith("# mlops-gitops: sha256=")


# --- what the stamp covers is what the full path reads --------------------------------------------


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every path the process stats or opens (Path.is_file, read_text, ..., os.stat)."""
    seen: set[str] = set()
    stat, opener, os_stat = pathlib.Path.stat, pathlib.Path.open, os.stat

    def watched_stat(self: pathlib.Path, *args: object, **kwargs: object) -> os.stat_result:
        seen.add(str(self))
        return stat(self, *args, **kwargs)  # type: ignore[arg-type]

    def watched_open(self: pathlib.Path, *args: object, **kwargs: object) -> object:
        seen.add(str(self))
        return opener(self, *args, **kwargs)  # type: ignore[call-overload]

    def watched_os_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        seen.add(str(path))
        return os_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "stat", watched_stat)
    monkeypatch.setattr(pathlib.Path, "open", watched_open)
    monkeypatch.setattr(os, "stat", watched_os_stat)
    yield seen


@pytest.mark.parametrize("shape", ["adopted", "owned"])
def test_the_stamp_covers_every_file_generate_looks_at(
    shape: str, repo: Path, owned: Path, touched: set[str]
) -> None:
    """If rendering starts to look at another file (a new probe), the stamp must cover it, or a
    fresh clone would answer "current" where the full path would not."""
    root = (repo if shape == "adopted" else owned).resolve()
    forget(root)
    (root / RECORD).write_text(files.without_stamp((root / RECORD).read_text()))
    touched.clear()
    the_plan, _ = build_plan(root, tree=WorkTree(root))
    made = stamp_of(next(a.new for a in the_plan.actions if a.path == RECORD) or "")
    assert made is not None
    sources = made["sources"]
    assert isinstance(sources, dict)
    covered = {*made["probes"], *sources["read"], *made["outputs"], RECORD, "mlops.yaml"}  # type: ignore[misc]
    looked = {os.path.relpath(p, root) for p in touched if p.startswith(str(root) + os.sep)}
    ours = {p for p in looked if p == ".git" or p.startswith((".git/", WORKFLOWS))}
    assert looked - ours - covered == set()


def test_tool_content_is_the_same_in_a_checkout_and_a_wheels_layout(tmp_path: Path) -> None:
    """A laptop's checkout and CI's installed wheel (templates/ and examples/ inside the package)
    agree, whatever folder either lives in."""
    checkout = tmp_path / "checkout"
    shutil.copytree(PACKAGE_DIR, checkout / "mlops_gitops", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(templates_dir(), checkout / "templates")
    wheel = tmp_path / "site-packages"
    shutil.copytree(PACKAGE_DIR, wheel / "mlops_gitops", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(templates_dir(), wheel / "mlops_gitops" / "templates")
    shutil.copytree(examples_dir(), wheel / "mlops_gitops" / "examples")
    code = "from mlops_gitops.pipeline.fingerprint import tool_content; print(tool_content())"

    def content(where: Path) -> str:
        env = {**os.environ, "PYTHONPATH": str(where)}
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert content(checkout) == content(wheel)
    (wheel / "mlops_gitops" / "templates" / "github" / "workflows" / "mlops-pr.yml.j2").write_text("x")
    assert content(wheel) != content(checkout)


def test_the_install_is_found_where_importlib_metadata_finds_it() -> None:
    from importlib import metadata

    try:
        expected: str | None = metadata.distribution("mlops-gitops").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        expected = None
    assert stamp.installed_direct_url() == expected


def test_sources_digest_binds_the_fingerprint_to_bytes(repo: Path) -> None:
    tree = WorkTree(repo)
    dvcfiles = ["pipelines/churn/dvc.yaml", "pipelines/fraud/dvc.yaml"]
    reads: list[str] = []
    print_ = fingerprint.fingerprint(repo, dvcfiles, tree=tree, reads=reads)
    sources = fingerprint.Sources(dvcfiles, reads)
    assert "pipelines/churn/params.yaml" in sources.read and ".dvc/config" in sources.read
    digest = fingerprint.sources_digest(tree, print_, sources, tree.listing)
    made = {"sources": {"dvcfiles": dvcfiles, "read": list(sources.read), "digest": digest}}
    held = fingerprint.verified_sources(tree, made, print_, dvcfiles, tree.listing)
    assert held is not None and held.read == sources.read
    assert fingerprint.verified_sources(tree, made, "0" * 64, dvcfiles, tree.listing) is None
    assert fingerprint.verified_sources(tree, made, print_, dvcfiles[:1], tree.listing) is None
    (repo / "pipelines/churn/params.yaml").write_text("train:\n  threshold: 22\n")
    assert fingerprint.verified_sources(WorkTree(repo), made, print_, dvcfiles, tree.listing) is None
