"""``generate`` and ``generate --check`` as one flow: mlops.yaml -> every generated file, compared with
the tree, then written all or nothing. Returns a :class:`Generated` that says what happened; the
``generate`` and ``init`` commands print its lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.errors import EXIT_CHECK_FAILED, EXIT_OK, MlopsError, UsageError
from mlops_gitops.generation import checkcache, stamp
from mlops_gitops.names import DVC_FILE, MANIFEST_FILE, WORKFLOWS_DIR
from mlops_gitops.pipeline.fingerprint import WorkTree

if TYPE_CHECKING:  # pragma: no cover
    # At run time only the full path needs these: a check answered by hashing never builds a plan.
    from mlops_gitops.adapters.files import Action, Plan, Rendered
    from mlops_gitops.pipeline.project import Project

VERBS = {"create": "created", "update": "updated", "remove": "removed"}
STALE = {"create": "missing", "update": "stale", "remove": "no longer produced by mlops.yaml"}


@dataclass
class Generated:
    check: bool
    actions: list[Action] = field(default_factory=list)
    remembered: bool = False  # answered from the memo in .git, without rendering
    stamped: bool = False  # answered from the record's stamp (a fresh clone), without rendering
    warnings: list[str] = field(default_factory=list)  # one line each, for stderr

    def by_op(self, *ops: str) -> list[Action]:
        return [a for a in self.actions if a.op in ops]

    @property
    def stale(self) -> list[Action]:
        return self.by_op("create", "update", "conflict", "remove")

    @property
    def exit_code(self) -> int:
        failed = self.stale if self.check else self.by_op("conflict")
        return EXIT_CHECK_FAILED if failed else EXIT_OK

    def lines(self) -> list[str]:
        """What a user reads: each stale file with its diff (check), each refused or written file."""
        out: list[str] = []
        if self.check and not self.stale:
            return ["generated files are current"]
        if self.check:
            from mlops_gitops.pipeline.record import RECORD_FILE, describe_change

            record = next((a for a in self.stale if a.path == RECORD_FILE and a.op == "update"), None)
            for action in self.stale:
                reason = STALE.get(action.op, action.reason)
                if action is record:
                    reason += ": " + describe_change(action.old, action.new or "")
                elif record is not None and action.path.startswith(WORKFLOWS_DIR) and action.op == "update":
                    reason += f": it follows the pipelines (see {RECORD_FILE})"
                out.append(f"{action.path}: {reason}")
                out.append(action.diff().rstrip("\n"))
            out.append(f"{len(self.stale)} generated file(s) out of date: run `mlops-gitops generate`")
            return out
        conflicts = self.by_op("conflict")
        if conflicts:
            from mlops_gitops.render.edithints import hints

            for action in conflicts:
                out.append(
                    f"{action.path}: {action.reason}; not overwritten. Differences from what mlops.yaml gives:"
                )
                out.append(action.diff().rstrip("\n"))
                if action.path.startswith(WORKFLOWS_DIR) and action.old is not None:
                    keys = hints(action.path, action.old, action.new or "")
                    if keys:
                        out.append(f"{action.path}: in mlops.yaml, this edit is {'; '.join(keys)}")
            out.append(
                "nothing was written: move your edits into mlops.yaml (or keep them with a hand-written stage),"
                " or rerun with --force to overwrite"
            )
            return out
        for action in self.actions:
            if action.op in VERBS:
                out.append(f"{VERBS[action.op]} {action.path}")
            elif action.op == "keep":
                out.append(f"kept {action.path}: {action.reason}")
        if not self.by_op(*VERBS):
            out.append("generated files are current")
        return out


# How a `dvc init --subdir` monorepo is adopted: one DVC project at the Git root whose pipelines stay
# in their folders. Each folder's dvc.yaml becomes a pipeline of its own, with its own trigger paths,
# so a change in one retrains only that one (docs/adopting.md, "Monorepos").
SUBPROJECTS_HOW = (
    "to adopt them, make the repository one DVC project: `dvc init` at its root, each sub-project's "
    "remote moved into the root's .dvc/config, its .dvc/ folder removed; each dvc.yaml stays where it "
    "is and becomes a pipeline of its own, retrained only when its own files change (docs/adopting.md#monorepos)"
)


def below_git_root(root: Path, top: Path) -> str:
    """One line: ``root`` is inside the Git repository ``top`` but not its root. GitHub reads workflows
    only from the root's .github/workflows, so files generated here would never run."""
    where = root.relative_to(top).as_posix() if root.is_relative_to(top) else str(root)
    if (root / ".dvc").is_dir():
        return (
            f"{where}/ is a DVC project inside the Git repository {top} (`dvc init --subdir`), and GitHub "
            f"runs only the workflows at the repository's root; {SUBPROJECTS_HOW}"
        )
    return (
        f"{where}/ is not the root of its Git repository ({top}), and GitHub runs only the workflows at "
        f"the repository's root: run mlops-gitops there (a dvc.yaml in {where}/ is adopted as a pipeline)"
    )


def refuse_below_git_root(root: Path, tree: WorkTree | None = None) -> None:
    """Raise the one-line refusal when ``root`` is a folder below its Git repository's root
    (``tree``: the command's reading of the repository, which asks git once)."""
    top = (tree if tree is not None else WorkTree(root)).toplevel
    if top is not None and top.resolve() != root.resolve():
        raise UsageError(below_git_root(root.resolve(), top.resolve()))


def build_plan(
    root: Path, *, force: bool = False, writing: bool = True, tree: WorkTree | None = None
) -> tuple[Plan, Project]:
    """Load and validate the manifest, resolve the pipelines, render every file in memory and compare
    with the tree. When the manifest owns dvc.yaml it is rendered first, and DVC resolves that text
    before anything is written. Before ``writing``, each templated file must parse: a template bug
    must not reach the tree (a check writes nothing and shows any difference). The workflows keep
    the action pins Dependabot or Renovate moved on disk, where ``render.pins.choose`` prefers them to
    the tool's table; ``force`` renders the table's pins (the way back to them). ``tree``: the
    command's reading of the repository (listed and read once), else one of its own."""
    from mlops_gitops.adapters.files import keep_pins, plan
    from mlops_gitops.errors import ManifestError
    from mlops_gitops.manifest import dvcyaml
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import facts_problems, load_project
    from mlops_gitops.render import render_all

    tree = tree if tree is not None else WorkTree(root)
    refuse_below_git_root(root, tree)
    # Read before it is loaded: the stamp then names the text the files came from, even if the file
    # changes while this runs (the next check sees the difference and renders).
    manifest_bytes = tree.read(MANIFEST_FILE)
    manifest = load_manifest(root / MANIFEST_FILE)
    dvc_yaml = dvcyaml.render(manifest, _text(tree, DVC_FILE)) if manifest.owns_dvc_yaml else None
    project = load_project(root, manifest, dvc_yaml=dvc_yaml.text if dvc_yaml else None, tree=tree)
    problems = facts_problems(project)
    if problems:
        raise ManifestError(problems)
    probes = {path: stamp.probe(root, path) for path in stamp.probed_paths(project)} if writing else {}
    rendered = render_all(project, dvc_yaml)
    final = rendered if force else keep_pins(root, rendered)
    if writing:
        for item in final:
            if item.path.startswith(".github/"):
                check_yaml(item.path, item.text)
        final = _stamped(tree, project, manifest_bytes, probes, final, rendered)
    return stamp.settle(plan(root, final, force=force), check=not writing), project


def _stamped(
    tree: WorkTree,
    project: Project,
    manifest: bytes | None,
    probes: dict[str, str],
    final: list[Rendered],
    rendered: list[Rendered],
) -> list[Rendered]:
    """``final`` with the record carrying the stamp of this generate (``generation.stamp``)."""
    from dataclasses import replace

    from mlops_gitops.adapters.files import with_stamp

    made = stamp.make(tree, project, manifest, probes, final, rendered) if manifest is not None else None
    if made is None:
        return final
    return [
        replace(item, text=with_stamp(item.text, made)) if item.path == stamp.RECORD else item
        for item in final
    ]


def _text(tree: WorkTree, path: str) -> str | None:
    raw = tree.read(path)
    return raw.decode("utf-8") if raw is not None else None


def facts_inputs(project: Project) -> list[str]:
    """The files the pipeline facts were resolved from and that generate does not write."""
    written = {DVC_FILE} if project.manifest.owns_dvc_yaml else set()
    files = [p.dvcfile for p in project.pipelines] + [v for p in project.pipelines for v in p.vars_files]
    return [f for f in dict.fromkeys([*files, ".dvc/config"]) if f not in written]


def check_yaml(path: str, text: str) -> None:
    """A rendered file must parse before anything is written; a failure here is our bug, not the user's."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise MlopsError(f"{path}: mlops-gitops rendered invalid YAML ({exc}); nothing was written") from None


def generate(
    root: Path, *, force: bool = False, check: bool = False, tree: WorkTree | None = None
) -> Generated:
    """Render and write (or, with ``check``, only compare). A hand-edited file in the way is refused
    (nothing is written) unless ``force``. ``tree``: the repository as the calling flow already
    listed it (``init``), else read here, once, for the memo and the full path alike."""
    tree = tree if tree is not None else WorkTree(root)
    if check and not force:
        if checkcache.still_current(root, tree):
            return Generated(check=True, remembered=True)
        # A fresh clone has no memo; the record's stamp can still show nothing changed.
        answer = stamp.current(root, tree)
        if answer is not None:
            checkcache.remember_files(root, answer.files, answer.inputs, tree=tree)
            return Generated(check=True, stamped=True)
    from mlops_gitops.adapters.files import apply

    the_plan, project = build_plan(root, force=force, writing=not check, tree=tree)
    result = Generated(check=check, actions=the_plan.actions)
    if not check and the_plan.writes:
        from mlops_gitops.render.toolsource import running_source

        warning = running_source(project.manifest.tool).warning
        result.warnings += [f"warning: {warning}"] if warning else []
    if check:
        if not result.stale:
            checkcache.remember(root, the_plan, facts_inputs(project), tree=tree)
        return result
    if the_plan.conflicts:
        return result
    try:
        apply(root, the_plan)
    except OSError as exc:
        raise UsageError(
            f"{exc.filename or root}: cannot write: {exc.strerror or type(exc).__name__}; nothing was written"
        ) from None
    # Listed from now on: the dvc.yaml generate wrote, if it wrote one (the project lists it already).
    checkcache.remember(root, the_plan, facts_inputs(project), tree=tree, listed=project.listed)
    return result
