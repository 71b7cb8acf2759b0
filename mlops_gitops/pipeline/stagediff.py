"""Which stages DVC would run again between two revisions, decided from the files alone (no DVC).

Pure: the caller lists the files changed between the merge base and the head, and hands over the
content at both revisions of the paths :func:`needed` names (``None`` where a file does not exist).
A stage is *changed*, with the first reason found, when:

- a file it depends on changed: a changed path equal to or inside one of its ``deps``, the ``.dvc``
  pointer tracking one, or one of its ``cache: false`` outputs (those live in Git);
- a params key it reads has another value at the head (a whole-file params dependency: any value;
  a params file that cannot be parsed, or a ``.py`` params file: any change);
- its definition in dvc.yaml changed: the stage's own mapping (for a ``foreach`` over a literal list
  or mapping whose ``do`` did not change, only the items whose value changed), or a variable it
  interpolates (``${...}``, from ``vars`` or the dvc.yaml's default ``params.yaml``) has another value;
  a foreach over ``${X}`` changes only the items whose entry under ``X`` changed;
- its dvc.lock entry changed, or the head's dvc.lock has no entry for it (DVC has never run it);
- DVC runs it on every ``dvc repro`` (``always_changed``, or a stage without deps and outs);

and every stage downstream of a changed one is changed too. A ``frozen`` stage never runs, so it is
never changed and passes nothing on. What DVC alone can see is not visible here (an external
dependency's new version, a workspace that does not match a stale dvc.lock): such a stage is not
marked, and the job that reproduces its pipeline still runs it.
"""

from __future__ import annotations

import enum
import json
import posixpath
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from mlops_gitops.pipeline.facts import PipelineFacts, RepoFacts, StageFacts, pointers_for, within

Contents = Mapping[str, tuple[bytes | None, bytes | None]]  # path -> (at the merge base, at the head)

ALWAYS = "runs on every dvc repro (always_changed, or no deps and no outs)"
NEVER_RUN = "no dvc.lock entry at the head (never reproduced)"


class _Sentinel(enum.Enum):
    """What stands for a value where there is none to compare. Files are parsed from outside and
    not validated, so every value read from them is an ``object``, narrowed where it is used."""

    MISSING = "<missing>"
    UNREADABLE = "<unreadable>"

    def __repr__(self) -> str:
        return self.value


MISSING: Final = _Sentinel.MISSING  # the file, or the key, does not exist
UNREADABLE: Final = _Sentinel.UNREADABLE  # it exists but cannot be compared by value

_REF = re.compile(r"\$\{\s*([^}]*?)\s*\}")
_EVERYTHING = "*"  # a variable change that may touch any key


def lock_of(dvcfile: str) -> str:
    return posixpath.join(posixpath.dirname(dvcfile), "dvc.lock")


def needed(facts: RepoFacts, files: Iterable[str]) -> tuple[str, ...]:
    """The paths whose content at both revisions :func:`changed_stages` compares: every dvc.lock
    (the head's tells which stages never ran), and the dvc.yaml, vars and params files that changed."""
    changed = set(files)
    paths: list[str] = []
    for pipeline in facts.pipelines:
        paths.append(lock_of(pipeline.dvcfile))
        definition = (pipeline.dvcfile, *pipeline.vars_files)
        if changed.intersection(definition):  # all of them: what its stages interpolate
            paths.extend(definition)
        paths.extend(p for s in pipeline.stages for p in s.params_files if p in changed)
    return tuple(sorted(set(paths)))


def changed_stages(facts: RepoFacts, files: Sequence[str], contents: Contents) -> dict[str, str]:
    """Stage address -> why it runs again, for every changed stage, in the facts' order."""
    direct: dict[str, str] = {}
    for pipeline in facts.pipelines:
        for address, reason in _pipeline_changes(facts, pipeline, files, contents).items():
            direct.setdefault(address, reason)
    return downstream(facts, direct)


def every_stage(facts: RepoFacts, reason: str) -> dict[str, str]:
    """Every stage that can run (a schedule, a dispatch: everything retrains)."""
    return {s.address: reason for s in facts.stages() if not s.frozen}


def downstream(facts: RepoFacts, direct: Mapping[str, str]) -> dict[str, str]:
    """``direct`` plus every stage downstream of one of them (not through a frozen stage)."""
    children: dict[str, list[str]] = {}
    for address, parents in facts.graph().items():
        for parent in parents:
            children.setdefault(parent, []).append(address)
    frozen = {s.address for s in facts.stages() if s.frozen}
    reasons = {a: r for a, r in direct.items() if a not in frozen}
    todo = deque(reasons)  # breadth first: a stage is named after its nearest changed ancestor
    while todo:
        parent = todo.popleft()
        for child in children.get(parent, ()):
            if child not in reasons and child not in frozen:
                reasons[child] = f"downstream of {parent}"
                todo.append(child)
    return {s.address: reasons[s.address] for s in facts.stages() if s.address in reasons}


# ---------------------------------------------------------------------------------------------------


def _pipeline_changes(
    facts: RepoFacts, pipeline: PipelineFacts, files: Sequence[str], contents: Contents
) -> dict[str, str]:
    found: dict[str, str] = {}
    changed = set(files)

    def mark(stages: Iterable[StageFacts], reason: str) -> None:
        for stage in stages:
            if not stage.frozen:
                found.setdefault(stage.address, reason)

    for stage in pipeline.stages:
        reason = _input_change(facts, stage, files, changed, contents)
        if reason:
            mark([stage], reason)
        elif stage.always_changed or not (stage.deps or stage.params or stage.outs):
            mark([stage], ALWAYS)

    if pipeline.dvcfile in changed or changed.intersection(pipeline.vars_files):
        for stages, reason in _definition_changes(pipeline, changed, contents):
            mark(stages, reason)

    lock = lock_of(pipeline.dvcfile)
    if lock in contents:
        base, head = (_entries(_load(lock, side)) for side in contents[lock])
        for stage in pipeline.stages:
            if head is UNREADABLE or head.get(stage.name, MISSING) is MISSING:
                mark([stage], NEVER_RUN)
            elif lock in changed and (base is UNREADABLE or base.get(stage.name) != head[stage.name]):
                mark([stage], f"its {lock} entry changed")
    return found


def _input_change(
    facts: RepoFacts, stage: StageFacts, files: Sequence[str], changed: set[str], contents: Contents
) -> str | None:
    for dep in stage.deps:
        hit = next((f for f in files if within(f, dep)), None)
        if hit:
            return hit if hit == dep else f"{hit} (in {dep})"
    for pointer in pointers_for(stage.deps, facts.tracked):
        if pointer in changed:
            return pointer
    for out in stage.uncached:
        hit = next((f for f in files if within(f, out)), None)
        if hit:
            return f"{hit} (its output, committed to Git)"
    for path, keys in stage.params:
        if path not in changed:
            continue
        if path not in contents:
            return path
        base, head = (_load(path, side) for side in contents[path])
        if base is UNREADABLE or head is UNREADABLE:
            return f"{path} (not comparable by value)"
        if not keys:
            if base != head:
                return f"{path} (every param)"
            continue
        for key in keys:
            if _get(base, key) != _get(head, key):
                return f"{path}: {key}"
    return None


def _definition_changes(
    pipeline: PipelineFacts, changed: set[str], contents: Contents
) -> list[tuple[list[StageFacts], str]]:
    dvcfile = pipeline.dvcfile
    groups: dict[str, list[StageFacts]] = {}
    for stage in pipeline.stages:
        groups.setdefault(stage.group or stage.name, []).append(stage)
    if dvcfile not in contents:  # not handed over: anything in it may have changed
        return [(stages, f"{dvcfile} changed") for stages in groups.values()]
    base_raw, head_raw = (_load(dvcfile, side) for side in contents[dvcfile])
    base_doc: Mapping[str, object] = base_raw if isinstance(base_raw, dict) else {}
    head_doc: Mapping[str, object] = head_raw if isinstance(head_raw, dict) else {}
    base_stages, head_stages = base_doc.get("stages"), head_doc.get("stages")
    if not isinstance(base_stages, dict) or not isinstance(head_stages, dict):
        reason = "a new pipeline" if base_raw is MISSING else f"{dvcfile} changed"
        return [(stages, reason) for stages in groups.values()]

    variables = _variable_changes(pipeline, changed, contents, base_doc, head_doc)
    out: list[tuple[list[StageFacts], str]] = []
    for group, stages in groups.items():
        head_def, base_def = head_stages.get(group, MISSING), base_stages.get(group, MISSING)
        if head_def is MISSING:  # not written as DVC resolved it: be safe
            out.append((stages, f"{dvcfile} changed"))
            continue
        if base_def is MISSING:
            out.append((stages, f"new in {dvcfile}"))
            continue
        if base_def != head_def:
            items = _changed_items(base_def, head_def)
            if items is None:
                out.append((stages, f"its definition in {dvcfile} changed"))
                continue
            reason = f"its foreach item in {dvcfile} changed"
            out.append(([s for s in stages if s.name.partition("@")[2] in items], reason))
        if variables.changed:
            out.extend(_interpolation_changes(head_def, stages, variables))
    return out


def _changed_items(base_def: object, head_def: object) -> set[str] | None:
    """Item keys of a ``foreach`` whose value changed, when nothing else of the definition did and
    both lists are written out; None: every item may have changed."""
    if not (isinstance(base_def, dict) and isinstance(head_def, dict)):
        return None
    if "foreach" not in base_def or "foreach" not in head_def:
        return None
    rest = {k: v for k, v in head_def.items() if k != "foreach"}
    if rest != {k: v for k, v in base_def.items() if k != "foreach"}:
        return None
    base_items, head_items = _items(base_def["foreach"]), _items(head_def["foreach"])
    if base_items is None or head_items is None:
        return None
    return {key for key, value in head_items.items() if base_items.get(key, MISSING) != value}


def _items(iterable: object) -> dict[str, object] | None:
    """DVC's item keys (``ForeachDefinition.normalized_iterable``): mapping keys; list indexes when
    any item is a mapping or list; else the values themselves. None for a ``${...}`` reference."""
    if isinstance(iterable, dict):
        return {_to_str(k): v for k, v in iterable.items()}
    if isinstance(iterable, list):
        if any(isinstance(v, (dict, list)) for v in iterable):
            return {str(i): v for i, v in enumerate(iterable)}
        return {_to_str(v): v for v in iterable}
    return None


def _to_str(value: object) -> str:
    """DVC's ``to_str``: booleans lower-case, everything else as str()."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class _Variables:
    """What ``${...}`` resolves against at both revisions: the vars files merged (the default
    params.yaml first, as DVC loads them) with the inline ``vars``; ``changed``: dotted names whose
    value differs (``*``: any may have)."""

    changed: set[str]
    base: dict[str, object]
    head: dict[str, object]


def _variable_changes(
    pipeline: PipelineFacts,
    changed: set[str],
    contents: Contents,
    base_raw: Mapping[str, object],
    head_raw: Mapping[str, object],
) -> _Variables:
    everything = _Variables({_EVERYTHING}, {}, {})
    base_ctx: dict[str, object] = {}
    head_ctx: dict[str, object] = {}
    for path in pipeline.vars_files:
        if path not in contents:
            if path in changed:
                return everything
            continue  # the same at both revisions, and not read: only lookups in it are lost
        base, head = (_load(path, side) for side in contents[path])
        if path in changed and not (isinstance(base, dict) and isinstance(head, dict)):
            return everything
        base_ctx.update(base if isinstance(base, dict) else {})
        head_ctx.update(head if isinstance(head, dict) else {})
    base_vars, head_vars = base_raw.get("vars") or [], head_raw.get("vars") or []
    if not isinstance(base_vars, list) or not isinstance(head_vars, list):
        return everything
    if [v for v in base_vars if not isinstance(v, dict)] != [v for v in head_vars if not isinstance(v, dict)]:
        return everything  # another vars file is read: anything may resolve differently
    base_ctx.update(_merged(base_vars))
    head_ctx.update(_merged(head_vars))
    return _Variables(_diff(base_ctx, head_ctx), base_ctx, head_ctx)


def _merged(entries: list[object]) -> dict[str, object]:
    merged: dict[str, object] = {}
    for entry in entries:
        if isinstance(entry, dict):
            merged.update(entry)
    return merged


def _diff(base: object, head: object, prefix: str = "") -> set[str]:
    """Dotted paths (list items by index) where two values differ, as deep as both are containers."""
    if base == head:
        return set()
    if isinstance(base, dict) and isinstance(head, dict):
        out: set[str] = set()
        for key in {*base, *head}:
            out |= _diff(base.get(key, MISSING), head.get(key, MISSING), f"{prefix}{key}.")
        return out
    if isinstance(base, list) and isinstance(head, list) and len(base) == len(head):
        out = set()
        for i, (b, h) in enumerate(zip(base, head, strict=True)):
            out |= _diff(b, h, f"{prefix}{i}.")
        return out
    return {prefix.rstrip(".") or _EVERYTHING}


def _interpolation_changes(
    definition: object, stages: list[StageFacts], variables: _Variables
) -> list[tuple[list[StageFacts], str]]:
    """The stages of one definition whose interpolated variables changed."""
    looped = isinstance(definition, dict) and ("foreach" in definition or "matrix" in definition)
    foreach = definition.get("foreach") if isinstance(definition, dict) else None
    over = _single_ref(foreach) if isinstance(foreach, str) else None
    # `over` is only set for a mapping with a `foreach`: the isinstance is for the type checker.
    body = (
        {k: v for k, v in definition.items() if k != "foreach"}
        if over and isinstance(definition, dict)
        else definition
    )
    for ref in sorted(_refs(body)):
        if looped and ref.split(".")[0] in ("item", "key"):
            continue  # the loop's own item: covered by the foreach list below
        if any(_overlap(ref, name) for name in variables.changed):
            return [(stages, f"uses ${{{ref}}}, which changed")]
    if over is None or not any(_overlap(over, name) for name in variables.changed):
        return []
    every = [(stages, f"its foreach list ${{{over}}} changed")]
    if _EVERYTHING in variables.changed:
        return every
    base_items = _items(_get(variables.base, over))
    head_items = _items(_get(variables.head, over))
    if base_items is None or head_items is None:
        return every
    keys = {key for key, value in head_items.items() if base_items.get(key, MISSING) != value}
    marked = [s for s in stages if s.name.partition("@")[2] in keys]
    return [(marked, f"its item in ${{{over}}} changed")] if marked else []


def _single_ref(text: str) -> str | None:
    match = _REF.fullmatch(text.strip())
    return _normal(match.group(1)) if match else None


def _refs(node: object) -> set[str]:
    """Every ``${name}`` in the strings (keys too) of a definition, dotted (``a[0].b`` -> ``a.0.b``)."""
    found: set[str] = set()
    if isinstance(node, str):
        found.update(_normal(m) for m in _REF.findall(node))
    elif isinstance(node, dict):
        for key, value in node.items():
            found |= _refs(key) | _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _normal(ref: str) -> str:
    return re.sub(r"\[\s*(\d+)\s*\]", r".\1", ref).strip(".")


def _overlap(ref: str, name: str) -> bool:
    return name == _EVERYTHING or ref == name or ref.startswith(name + ".") or name.startswith(ref + ".")


# ---------------------------------------------------------------------------------------------------
# Values of files.


def _load(path: str, data: bytes | None) -> object:
    """A file's parsed content: MISSING when absent, UNREADABLE when it cannot be compared by value."""
    if data is None:
        return MISSING
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return UNREADABLE
    suffix = posixpath.splitext(path)[1].lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            from mlops_gitops.adapters.toml import tomllib

            return tomllib().loads(text)
        if suffix == ".py":
            return UNREADABLE  # DVC reads Python params by executing nothing: compare the text only
        from ruamel.yaml.error import YAMLError

        from mlops_gitops.adapters.yamlsafe import load_safe

        try:
            return load_safe(text, path)
        except YAMLError:
            return UNREADABLE
    except (ValueError, RecursionError):
        return UNREADABLE


def _entries(lock: object) -> Mapping[str, object] | Literal[_Sentinel.UNREADABLE]:
    """A dvc.lock's ``stages`` mapping (empty when there is no lock)."""
    if lock is MISSING:
        return {}
    if lock is UNREADABLE or not isinstance(lock, dict) or not isinstance(lock.get("stages"), dict):
        return UNREADABLE
    return lock["stages"]


def _get(data: object, key: str) -> object:
    """The value at a dotted params key (list items by index), or MISSING."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node
