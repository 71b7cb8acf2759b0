"""A project: the manifest together with what DVC resolves its pipelines to.

Every command that needs to know the pipelines (``generate``, ``changed``, ``report``, ``promote``)
asks :func:`load_project`. Facts come, cheapest first, from the committed record
(``.mlops/pipelines.yaml``) when its fingerprint still matches the files, from a memo in ``.git``,
and only then from DVC's own parser (:mod:`mlops_gitops.pipeline.dvcindex`, imported only then).
Everything derived (which files trigger a retrain, which metrics files a report compares, which
pipeline a model comes from) is a pure function of :class:`Project`.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.adapters.files import stamp_of
from mlops_gitops.adapters.memo import GitMemo
from mlops_gitops.errors import Problem, UsageError
from mlops_gitops.manifest.model import Gate, Manifest
from mlops_gitops.names import DVC_FILE, DVC_LOCK, MANIFEST_FILE
from mlops_gitops.pipeline import fingerprint as fp
from mlops_gitops.pipeline.facts import PipelineFacts, RepoFacts, StageFacts, produced, within
from mlops_gitops.pipeline.record import RECORD_FILE, Record
from mlops_gitops.pipeline.record import parse as parse_record

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.manifest.loader import SourceMap
    from mlops_gitops.pipeline import fanout


@dataclass(frozen=True)
class Project:
    root: Path
    manifest: Manifest
    facts: RepoFacts
    fingerprint: str
    source: str = "record"  # record | memo | dvc: where the facts came from
    overrides: Mapping[str, str] = field(default_factory=dict, compare=False)
    # Every dvc.yaml and .dvc file, as listed once for this command (with the overrides' paths).
    listed: tuple[str, ...] = field(default=(), compare=False)
    # What the fingerprint was computed from (generate records it in the record's stamp).
    sources: fp.Sources | None = field(default=None, compare=False)

    # --- pipelines ----------------------------------------------------------------------------
    @property
    def pipelines(self) -> tuple[PipelineFacts, ...]:
        return self.facts.pipelines

    def pipeline_of(self, path: str) -> PipelineFacts | None:
        """The pipeline whose stages produce ``path`` (or a folder holding it)."""
        for pipeline in self.pipelines:
            if produced(path.rstrip("/"), pipeline.outs()):
                return pipeline
        return None

    def lock_of(self, pipeline: PipelineFacts) -> str:
        """The dvc.lock beside a pipeline's dvc.yaml."""
        return posixpath.join(posixpath.dirname(pipeline.dvcfile), DVC_LOCK)

    # --- metrics ------------------------------------------------------------------------------
    def metrics_files(self, pipeline: PipelineFacts | None = None) -> list[str]:
        """The metrics files a report compares: ``metrics.files`` when given, else every metrics file
        the pipelines declare (top level and per stage), of one pipeline when ``pipeline`` is given."""
        if self.manifest.metrics_files:
            files = list(self.manifest.metrics_files)
            if pipeline is None:
                return files
            return [f for f in files if f in pipeline.all_metrics()] or (
                files if len(self.pipelines) == 1 else []
            )
        chosen = [pipeline] if pipeline else list(self.pipelines)
        return list(dict.fromkeys(m for p in chosen for m in p.all_metrics()))

    def metrics_need_dvc(self) -> bool:
        """Whether a metrics file lives only in DVC's cache (inside a cached output or a ``.dvc``
        tracked path): then reading it at a commit needs DVC and the remote."""
        uncached = {u for s in self.facts.stages() for u in s.uncached}
        cached = [o for o in self.facts.outs() if o not in uncached]
        cached += [o for t in self.facts.tracked for o in t.outs]
        return any(produced(m, cached) for m in self.metrics_files())

    def params_files(self) -> list[str]:
        files = [f for p in self.pipelines for f in p.params_files]
        if not files:
            files = ["params.yaml"]
        return list(dict.fromkeys(files))

    def gates_of(self, pipeline: PipelineFacts | None) -> tuple[Gate, ...]:
        """Gates that apply to ``pipeline`` (unscoped gates apply to every pipeline)."""
        if pipeline is None:
            return self.manifest.gates
        return tuple(g for g in self.manifest.gates if g.pipeline in (None, pipeline.dvcfile))

    # --- triggers -----------------------------------------------------------------------------
    def trigger_paths(self, pipeline: PipelineFacts | None = None) -> tuple[str, ...]:
        """GitHub ``paths`` patterns whose change retrains ``pipeline`` (every pipeline when None):
        ``triggers.paths`` when given; else every resolved input (dependencies no stage of any
        pipeline produces, params files, ``.dvc`` pointers of tracked inputs), the dvc.yaml and its
        dvc.lock, and what every pipeline shares (mlops.yaml, the requirements, ``.dvc/config``)."""
        if self.manifest.trigger_paths:
            return self.manifest.trigger_paths
        chosen = [pipeline] if pipeline else list(self.pipelines)
        outs = self.facts.outs()
        tracked = {t.dvcfile: t.outs for t in self.facts.tracked}
        paths: list[str] = []
        for p in chosen:
            for path in p.inputs(outs):
                if any(path == out or within(path, out) for outs_ in tracked.values() for out in outs_):
                    continue  # data tracked by a .dvc pointer: the pointer is what Git sees change
                paths.extend(_as_patterns(self.root, path))
            paths.extend(p.dvc_pointers)
            paths.extend([p.dvcfile, self.lock_of(p)])
        paths.extend(self.shared_paths())
        return tuple(dict.fromkeys(paths))

    def external_inputs(self, pipeline: PipelineFacts | None = None) -> tuple[str, ...]:
        """What ``pipeline`` (every pipeline when None) reads from outside the repository: a
        ``dvc import`` pointer's repository and path, a ``dvc import-url`` pointer's URL, a stage's
        URL dependency. Not trigger paths (:meth:`trigger_paths` has the pointers instead): a change
        there retrains nothing until ``dvc update`` rewrites the pointer in this repository."""
        chosen = [pipeline] if pipeline else list(self.pipelines)
        return tuple(dict.fromkeys(e for p in chosen for e in self.facts.external_inputs(p.dvcfile)))

    def shared_paths(self) -> list[str]:
        """What every pipeline depends on beside its own inputs."""
        return [MANIFEST_FILE, ".dvc/config", *self.manifest.requirements]

    def repro_targets(self, dvcfiles: Iterable[str]) -> list[str]:
        """``dvc repro`` targets for a set of pipelines (the root dvc.yaml by its path too)."""
        return sorted(set(dvcfiles))

    # --- fan-out ------------------------------------------------------------------------------
    def fanout_settings(self) -> fanout.Settings:
        """``fanout:``, with ``runners.train`` as where a stage without its own runner runs."""
        from mlops_gitops.pipeline import fanout

        train, config = self.manifest.runner("train"), self.manifest.fanout
        return fanout.Settings(
            base=fanout.Placement(train.runs_on, train.container, train.timeout_minutes),
            # A matrix one job at a time only adds each job's set-up (benchmarks/bench_fanout.py).
            enabled=config.enabled and config.max_parallel >= 2,
            max_jobs=config.max_jobs,
            min_jobs=config.min_jobs,
        )

    def fans_out(self) -> bool:
        """Whether the generated workflows split training into jobs (plan, upstream, a matrix, final):
        ``fanout.enabled``, and the graph has work that can run side by side, a ``foreach``/``matrix``
        of two or more items or two or more pipelines (``min_jobs: 1``: always). Otherwise one job
        trains, with no plan job and no transfers (also with ``max_parallel: 1``)."""
        config = self.manifest.fanout
        if not self.fanout_settings().enabled:
            return False
        if config.min_jobs <= 1 or len(self.pipelines) >= 2:
            return True
        from mlops_gitops.pipeline.fanout import group_sizes

        return any(n >= 2 for n in group_sizes(self.facts.stages()).values())

    def planned_containers(self) -> bool:
        """Whether some training job can run in a container (``runners.train`` or a stage's runner):
        then the fanned-out jobs take the container the plan gives them."""
        return self.manifest.runner("train").container is not None or any(
            r.container is not None for r in self.manifest.stage_runners
        )

    def stage_placements(self) -> dict[str, fanout.Placement]:
        """Stage address -> where it runs, for the stages a ``runners.stages`` key matches (the
        first that does); what the key leaves out is ``runners.train``'s."""
        from mlops_gitops.pipeline import fanout

        train = self.manifest.runner("train")
        out: dict[str, fanout.Placement] = {}
        for stage in self.facts.stages():
            own = self.manifest.stage_runner(stage.address, stage.name, stage.group)
            if own is not None:
                out[stage.address] = fanout.Placement(
                    runs_on=own.runs_on if own.runs_on is not None else train.runs_on,
                    container=own.container if own.container is not None else train.container,
                    timeout_minutes=own.timeout_minutes,
                    runner=own.pattern,
                )
        return out


def _as_patterns(root: Path, path: str) -> list[str]:
    """A file is itself; a directory (or a path that does not exist yet) also covers what is inside."""
    if (root / path).is_file():
        return [path]
    if (root / path).is_dir() or "." not in posixpath.basename(path):
        return [path, f"{path}/**"]
    return [path]


# --- loading ---------------------------------------------------------------------------------------


def governed(manifest: Manifest, listed: Iterable[str]) -> list[str]:
    """The dvc.yaml files ``pipelines:`` names (paths or GitHub-style globs), or the root dvc.yaml;
    ``listed``: every dvc.yaml and .dvc file of the repository (:func:`fingerprint.listing`)."""
    if manifest.owns_dvc_yaml:
        return [DVC_FILE]
    from mlops_gitops.pipeline.pathfilter import matches

    present = [p for p in listed if posixpath.basename(p) == DVC_FILE]
    return sorted(p for p in present if matches(p, manifest.pipelines))


def load_project(
    root: Path,
    manifest: Manifest,
    *,
    dvc_yaml: str | None = None,
    allow_dvc: bool = True,
    record_text: str | None = None,
    tree: fp.WorkTree | None = None,
) -> Project:
    """The project at ``root``. ``dvc_yaml``: the text ``generate`` is about to write as the root
    dvc.yaml (manifest-owned stages), read instead of the file. ``record_text``: the committed
    record to trust when its fingerprint matches (default: read from disk). ``tree``: the command's
    reading of the repository (listed and read once), else one of its own."""
    tree = tree if tree is not None else fp.WorkTree(root)
    if dvc_yaml is None and manifest.owns_dvc_yaml and tree.read(DVC_FILE) is None:
        # Not generated yet: the pipeline is what generate would write.
        from mlops_gitops.manifest.dvcyaml import render

        dvc_yaml = render(manifest, None).text
    overrides = {DVC_FILE: dvc_yaml} if dvc_yaml is not None else {}
    listed = tuple(sorted({*tree.listing, *overrides}))
    dvcfiles = governed(manifest, listed)
    if not dvcfiles:
        raise UsageError(
            f"{MANIFEST_FILE}: pipelines: {', '.join(manifest.pipelines)} matches no dvc.yaml in this "
            "repository (paths are relative to the repository root)"
        )
    if record_text is None and (raw := tree.read(RECORD_FILE)) is not None:
        with contextlib.suppress(UnicodeDecodeError):
            record_text = raw.decode("utf-8")
    record = parse_record(record_text)
    # The record's stamp says which files its fingerprint was computed from: while they hash the
    # same, it is the fingerprint, and no YAML needs parsing (fingerprint.verified_sources).
    sources = (
        fp.verified_sources(tree, stamp_of(record_text), record.fingerprint, dvcfiles, listed, overrides)
        if record is not None
        else None
    )
    if record is not None and sources is not None:
        print_ = record.fingerprint
    else:
        reads: list[str] = []
        print_ = fp.fingerprint(root, dvcfiles, overrides, listed, tree=tree, reads=reads)
        sources = fp.Sources(dvcfiles, reads)

    def made(facts: RepoFacts, source: str) -> Project:
        return Project(root, manifest, facts, print_, source, overrides, listed, sources)

    if record is not None and record.fingerprint == print_:
        return made(record.facts, "record")
    memo = FactsMemo.beside(root)
    remembered = memo.recall(print_) if memo else None
    if remembered is not None:
        return made(remembered, "memo")
    if not allow_dvc:
        raise UsageError(
            f"{RECORD_FILE} does not describe the pipelines as they are now ({', '.join(dvcfiles)} or "
            "what they read changed): run `mlops-gitops generate` and commit the result"
        )
    facts = read_with_dvc(root, dvcfiles, overrides)
    if memo:
        memo.remember(print_, facts)
    return made(facts, "dvc")


def read_with_dvc(root: Path, dvcfiles: list[str], overrides: Mapping[str, str]) -> RepoFacts:
    try:
        from mlops_gitops.pipeline.dvcindex import read_facts
    except ImportError:  # pragma: no cover - the core install without the dvc extra
        raise UsageError(
            "resolving the pipelines needs DVC, which is not installed: `pip install 'mlops-gitops[dvc]'`"
        ) from None
    return read_facts(root, dvcfiles, overrides)


class FactsMemo:
    """Facts DVC resolved, by fingerprint, tool and DVC, kept in ``.git`` (never committed)."""

    NAME = "mlops-gitops-facts.json"
    KEEP = 8

    def __init__(self, memo: GitMemo) -> None:
        self.memo = memo

    @classmethod
    def beside(cls, root: Path) -> FactsMemo | None:
        memo = GitMemo.beside(root, cls.NAME, cls.KEEP)
        return cls(memo) if memo is not None else None

    @staticmethod
    def key(print_: str) -> str:
        from mlops_gitops.adapters.memo import dvc_signature
        from mlops_gitops.adapters.resources import tool_signature

        # DVC's own parser resolved the facts: another DVC may resolve them otherwise.
        dvc = hashlib.sha256((dvc_signature() or "").encode("utf-8")).hexdigest()
        return f"{tool_signature()}:{dvc}:{print_}"

    def recall(self, print_: str) -> RepoFacts | None:
        data = self.memo.recall(self.key(print_))
        if not isinstance(data, dict):
            return None
        try:
            return RepoFacts.from_json(data)
        except (ValueError, KeyError, TypeError):
            return None

    def remember(self, print_: str, facts: RepoFacts) -> None:
        self.memo.remember(self.key(print_), facts.to_json())


def record_of(project: Project) -> Record:
    return Record(project.fingerprint, project.facts)


# --- checks that need the pipelines ----------------------------------------------------------------


def facts_problems(project: Project) -> list[Problem]:
    """What the manifest says about the pipelines that they do not hold: the model is no output, a
    gate names a metrics file or pipeline that is not there, data checks read no input."""
    manifest = project.manifest
    problems: list[Problem] = []
    where = _Locator(project.root / MANIFEST_FILE)
    dvcfiles = [p.dvcfile for p in project.pipelines]
    all_metrics = {m for p in project.pipelines for m in p.all_metrics()} | set(manifest.metrics_files)
    for i, gate in enumerate(manifest.gates):
        if gate.pipeline and gate.pipeline not in dvcfiles:
            problems.append(
                where.problem(
                    ("metrics", "gates", i, "pipeline"),
                    f"'{gate.pipeline}' is not a pipeline of this project ({', '.join(dvcfiles)})",
                )
            )
        if gate.file and gate.file not in all_metrics:
            problems.append(
                where.problem(
                    ("metrics", "gates", i, "file"),
                    f"'{gate.file}' is not a metrics file of this project "
                    f"({', '.join(sorted(all_metrics)) or 'none'})",
                )
            )
    problems.extend(stage_runner_problems(project, where))
    if manifest.deploy:
        model = manifest.deploy.model
        if model.pipeline and model.pipeline not in dvcfiles:
            problems.append(
                where.problem(
                    ("deploy", "model", "pipeline"),
                    f"'{model.pipeline}' is not a pipeline of this project ({', '.join(dvcfiles)})",
                )
            )
        elif model_stage(project) is None:
            outs = sorted({o for p in project.pipelines for o in p.outs()})
            shown = ", ".join(outs[:12]) + (", ..." if len(outs) > 12 else "")
            problems.append(
                where.problem(
                    ("deploy", "model", "path"),
                    f"'{model.path}' is not an output of any stage (outs: {shown or 'none'})",
                )
            )
    return problems


def runner_problems(project: Project) -> list[Problem]:
    """The ``runners.stages`` keys that place no stage, located in mlops.yaml (see below)."""
    if not project.manifest.stage_runners:
        return []
    return stage_runner_problems(project, _Locator(project.root / MANIFEST_FILE))


def stage_runner_problems(project: Project, where: _Locator) -> list[Problem]:
    """A ``runners.stages`` key that places no stage: it matches none (a typo, a renamed stage), or
    every stage it matches is placed by an earlier key."""
    problems: list[Problem] = []
    stages = project.facts.stages()
    runners = project.manifest.stage_runners
    for i, runner in enumerate(runners):
        matched = [s for s in stages if runner.matches(s.address, s.name, s.group)]
        if not matched:
            import difflib

            names = sorted({n for s in stages for n in (s.name, s.group or s.name)})
            near = difflib.get_close_matches(runner.pattern, names, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            problems.append(
                where.problem(
                    ("runners", "stages", runner.pattern),
                    f"'{runner.pattern}' matches no stage of the pipelines{hint} (stages: {shown or 'none'})",
                )
            )
            continue
        placed_by = [
            next((r.pattern for r in runners[:i] if r.matches(s.address, s.name, s.group)), None)
            for s in matched
        ]
        if all(placed_by):
            problems.append(
                where.problem(
                    ("runners", "stages", runner.pattern),
                    f"every stage '{runner.pattern}' matches is placed by '{placed_by[0]}' before it: "
                    "move it up, or remove it",
                )
            )
    return problems


def model_stage(project: Project) -> tuple[PipelineFacts, StageFacts] | None:
    """The pipeline and stage whose output is (or holds) the deployment model."""
    assert project.manifest.deploy is not None
    model = project.manifest.deploy.model
    path = posixpath.normpath(model.path.rstrip("/"))
    for pipeline in project.pipelines:
        if model.pipeline and pipeline.dvcfile != model.pipeline:
            continue
        for stage in pipeline.stages:
            if any(within(path, out) for out in stage.outs):
                return pipeline, stage
    return None


class _Locator:
    """Positions of keys in mlops.yaml, parsed only when a problem needs one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._source: SourceMap | None = None
        self._parsed = False

    def problem(self, key: tuple[str | int, ...], message: str) -> Problem:
        from mlops_gitops.manifest.loader import dotted, parse_yaml

        if not self._parsed:
            self._parsed = True
            with contextlib.suppress(OSError, UsageError):
                _, self._source = parse_yaml(self.path.read_text(encoding="utf-8"), MANIFEST_FILE)
        pos = self._source.value(key) if self._source else None
        line, col = pos or (None, None)
        return Problem(MANIFEST_FILE, line, col, dotted(key), message)
