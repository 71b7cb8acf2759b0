"""``.mlops/pipelines.yaml``: what DVC resolved the governed pipelines to, committed beside them.

It is a generated file (header, hash, refused when edited by hand) holding the facts mlops-gitops
uses (stages, dependencies, outputs, metrics, plots, artifacts; not the commands) and the
:mod:`fingerprint <mlops_gitops.pipeline.fingerprint>` of the files they came from. So the core
commands know the pipelines without importing DVC, and a pull request that changes what a pipeline
depends on shows that change in a reviewable diff of this file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass

from mlops_gitops import __version__
from mlops_gitops.adapters.files import digest, header, parse_header
from mlops_gitops.names import GENERATED_PREFIX
from mlops_gitops.pipeline.facts import FactsFormatError, RepoFacts

RECORD_FILE = ".mlops/pipelines.yaml"


@dataclass(frozen=True)
class Record:
    fingerprint: str
    facts: RepoFacts


def slim(facts: RepoFacts) -> RepoFacts:
    """The facts without what the record leaves out: commands and descriptions change no path, and
    recording them would make every command edit a regeneration."""
    return dataclasses.replace(
        facts,
        pipelines=tuple(
            dataclasses.replace(p, stages=tuple(dataclasses.replace(s, cmd="", desc=None) for s in p.stages))
            for p in facts.pipelines
        ),
    )


def render(record: Record) -> str:
    body = json.dumps(
        {"fingerprint": record.fingerprint, "facts": slim(record.facts).to_json()},
        indent=2,
        sort_keys=False,
        ensure_ascii=False,
    )
    body += "\n"
    intro = [
        f"{GENERATED_PREFIX} {__version__} from mlops.yaml and the dvc.yaml files it governs, as DVC",
        "# resolves them (vars, foreach, matrix, wdir applied). Do not edit: run `mlops-gitops generate`.",
    ]
    return header(digest(body), intro=intro) + body


def parse(text: str | None) -> Record | None:
    """The record in ``text``, or None when there is none, it was edited, or it is of another format.

    A record we wrote is JSON under its header, where no alias can be written. Any other text is no
    record; but the file is named and committed as YAML, so if it is a YAML alias bomb it is refused
    (:class:`~mlops_gitops.errors.YamlBombError`, one line) like any other YAML the tool reads."""
    if text is None:
        return None
    parsed = parse_header(text)
    if parsed is not None and digest(parsed.body) == parsed.digest:
        # RecursionError: JSON nested deeper than Python's parser recurses is no record of ours.
        with contextlib.suppress(ValueError, KeyError, TypeError, FactsFormatError, RecursionError):
            data = json.loads(parsed.body)
            return Record(str(data["fingerprint"]), RepoFacts.from_json(data["facts"]))
    _refuse_alias_bomb(text)
    return None


def _refuse_alias_bomb(text: str) -> None:
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import guard

    with contextlib.suppress(YAMLError):  # not YAML either: simply no record
        guard(text, RECORD_FILE)


def describe_change(old_text: str | None, new_text: str) -> str:
    """What changed between two records, in one line: the reason a regenerate is due."""
    old, new = parse(old_text), parse(new_text)
    if new is None:
        return "regenerated"
    if old is None:
        return "missing or edited by hand" if old_text else "missing"
    parts: list[str] = []

    def diff(what: str, before: set[str], after: set[str]) -> None:
        added, removed = sorted(after - before), sorted(before - after)
        if added:
            parts.append(f"{what} added: {_few(added)}")
        if removed:
            parts.append(f"{what} removed: {_few(removed)}")

    diff("pipelines", set(old.facts.dvcfiles), set(new.facts.dvcfiles))
    diff("stages", {s.address for s in old.facts.stages()}, {s.address for s in new.facts.stages()})
    old_inputs = {i for p in old.facts.pipelines for i in p.inputs(old.facts.outs())}
    new_inputs = {i for p in new.facts.pipelines for i in p.inputs(new.facts.outs())}
    diff("inputs", old_inputs, new_inputs)
    diff(
        "metrics files",
        {m for p in old.facts.pipelines for m in p.all_metrics()},
        {m for p in new.facts.pipelines for m in p.all_metrics()},
    )
    summary = "; ".join(parts) or "what the pipelines declare changed"
    return f"the pipelines changed since the last `mlops-gitops generate` ({summary})"


def _few(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
