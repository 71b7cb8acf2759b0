"""Where a rollout's split lives in the deployment file, what it says now, and the byte-minimal edits
that move it: a number set (a share), a key added or removed (KServe's ``canaryTrafficPercent``), a
value set (through :mod:`mlops_gitops.delivery.yamledit`, which keeps its quoting).

Every edit splices the original text and is checked by loading both texts: the result must be the
old data with exactly that change, or the edit is refused (never a silently different file). Pure:
text in, text out.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops.delivery import yamledit
from mlops_gitops.errors import YamlEditError
from mlops_gitops.manifest.model import Environment
from mlops_gitops.manifest.rollout import Rollout

_MISSING = object()


@dataclass(frozen=True)
class Place:
    """A dotted path in one YAML document of the deployment file."""

    document: int
    path: str

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def key(self) -> str:
        return self.path.rpartition(".")[2]


@dataclass(frozen=True)
class Slots:
    """The places of one environment's split: the current model's value (``control``: the
    environment's field), the candidate's (the same place when it replaces the value in place), the
    candidate's share and, for weights that must add up, the current model's share."""

    control: Place
    candidate: Place
    share: Place
    control_share: Place | None
    in_place: bool
    scale: float


@dataclass(frozen=True)
class State:
    """What the file says: ``share`` None when no rollout is in progress; the values of both arms
    (``control`` None in place: the file no longer holds it, the history does)."""

    share: float | None
    control: str | None
    candidate: str | None

    @property
    def rolling(self) -> bool:
        return self.share is not None


# --- reading -------------------------------------------------------------------------------------


def documents(text: str, source: str) -> list[Any]:
    """Every YAML document of the file as plain data (the safe loader, aliases guarded)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import guard

    try:
        guard(text, source)  # a deployment file comes from a repository: no alias bombs
        return list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError as exc:
        raise YamlEditError(f"{source}: not valid YAML: {' '.join(str(exc).split())[:300]}") from None


def split_path(path: str) -> list[str]:
    """``spec.canary.0.trafficPercent`` -> its keys; a quoted key may hold dots (yamledit's grammar)."""
    return yamledit._split_path(path)


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` in plain data, or ``_MISSING``."""
    node = data
    for seg in split_path(path):
        if isinstance(node, Mapping) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
            node = node[int(seg)]
        else:
            return _MISSING
    return node


def value_at(text: str, place: Place, source: str) -> str | None:
    """The value at ``place`` as text (a number as YAML writes it), or None when absent."""
    docs = documents(text, source)
    found = lookup(docs[place.document], place.path) if place.document < len(docs) else _MISSING
    if found is _MISSING or found is None:
        return None
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        return number_text(found)
    return str(found)


def slots(text: str, env: Environment, rollout: Rollout) -> Slots:
    """The places of ``env``'s split in ``text``; Seldon's documents are found by kind and name."""
    t = rollout.traffic
    doc = env.document
    if t.shape == "seldon":
        return _seldon(text, env, t.scale)
    share = Place(doc if t.document is None else t.document, t.share)
    control = Place(doc, env.field)
    if t.candidate is None:
        return Slots(control, control, share, None, True, t.scale)
    candidate = Place(doc if t.candidate_document is None else t.candidate_document, t.candidate)
    control_share = Place(share.document, t.control_share) if t.control_share else None
    return Slots(control, candidate, share, control_share, False, t.scale)


def _seldon(text: str, env: Environment, scale: float) -> Slots:
    """A Seldon Core 2 Experiment (``kind: Experiment``) in the file, whose ``spec.candidates`` are the
    current model then the candidate, each a ``kind: Model`` document named by ``metadata.name``."""
    docs = documents(text, env.file)
    experiments = [i for i, d in enumerate(docs) if isinstance(d, Mapping) and d.get("kind") == "Experiment"]
    if len(experiments) != 1:
        raise YamlEditError(
            f"{env.file}: traffic seldon needs one Experiment document in the file, found {len(experiments)}"
        )
    (exp,) = experiments
    candidates = lookup(docs[exp], "spec.candidates")
    names = [c.get("name") for c in candidates] if isinstance(candidates, list) else []
    if len(names) != 2 or not all(isinstance(c, Mapping) and "weight" in c for c in candidates):
        raise YamlEditError(
            f"{env.file}: document {exp}: spec.candidates must be two entries with name and weight: "
            "the current model, then the candidate"
        )
    models = {
        d["metadata"]["name"]: i
        for i, d in enumerate(docs)
        if isinstance(d, Mapping)
        and d.get("kind") == "Model"
        and isinstance(d.get("metadata"), Mapping)
        and "name" in d["metadata"]
    }
    for name in names:
        if name not in models:
            raise YamlEditError(
                f"{env.file}: the Experiment names Model '{name}', which the file does not hold"
            )
    if models[names[0]] != env.document:
        raise YamlEditError(
            f"{env.file}: document {env.document} (deploy document) must be the Model the Experiment serves "
            f"first, '{names[0]}' (document {models[names[0]]})"
        )
    control = Place(env.document, env.field)
    candidate = Place(models[names[1]], env.field)
    share = Place(exp, "spec.candidates.1.weight")
    return Slots(control, candidate, share, Place(exp, "spec.candidates.0.weight"), False, scale)


def read_state(text: str, env: Environment, places: Slots) -> State:
    """The split ``text`` holds. No rollout is in progress when the share is absent (in place), 0,
    or all traffic."""
    docs = documents(text, env.file)

    def value(place: Place) -> Any:
        data = docs[place.document] if place.document < len(docs) else None
        return lookup(data, place.path)

    found = value(places.share)
    if found is _MISSING and not places.in_place:
        raise YamlEditError(
            f"{env.file}: no {places.share.path} in document {places.share.document}: the candidate's "
            "share must be in the file (0 when no rollout is in progress)"
        )
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        share = float(found)
    elif found is _MISSING:
        share = 0.0
    else:
        raise YamlEditError(f"{env.file}: {places.share.path} is {found!r}, not a number")
    rolling = 0 < share < places.scale
    field = value(places.control)
    if field is _MISSING or not isinstance(field, (str, int, float)):
        raise YamlEditError(f"{env.file}: {env.field} is not a value in document {env.document}")
    candidate = value(places.candidate)
    return State(
        share if rolling else None,
        None if places.in_place else str(field),
        str(candidate) if rolling and candidate is not _MISSING else None,
    )


# --- editing -------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A share as YAML writes it: an integer when it is one (KServe's percent is an int)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _compose(text: str, source: str) -> list[Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import guard

    try:
        guard(text, source)
        # The pure-Python parser: its marks are character offsets into the text we splice.
        return list(YAML(typ="safe", pure=True).compose_all(text))
    except YAMLError as exc:
        raise YamlEditError(f"{source}: not valid YAML: {' '.join(str(exc).split())[:300]}") from None


def _node(text: str, place: Place, source: str) -> Any:
    """ruamel's node at ``place`` (``_MISSING`` when absent)."""
    nodes = _compose(text, source)
    if place.document >= len(nodes):
        raise YamlEditError(f"{source}: no document {place.document} (the file has {len(nodes)})")
    node = nodes[place.document]
    for seg in split_path(place.path) if place.path else []:
        kind = type(node).__name__
        if kind == "MappingNode":
            hits = [v for k, v in node.value if getattr(k, "value", None) == seg]
            if not hits:
                return _MISSING
            node = hits[0]
        elif kind == "SequenceNode" and seg.isdigit() and int(seg) < len(node.value):
            node = node.value[int(seg)]
        else:
            return _MISSING
    return node


def _checked(old: str, new: str, place: Place, change: Any, source: str) -> str:
    """``new``, if it loads as ``old`` with exactly ``change`` applied at ``place``."""
    expected = copy.deepcopy(documents(old, source))
    segs = split_path(place.path)
    target = expected[place.document]
    for seg in segs[:-1]:
        target = target[int(seg)] if isinstance(target, list) else target[seg]
    last = segs[-1]
    if change is _MISSING:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = change
    else:
        target[last] = change
    try:
        got = documents(new, source)
    except YamlEditError:
        got = None
    if got != expected:
        raise YamlEditError(
            f"{source}: {place.path}: cannot edit it here without changing other data; edit it by hand"
        )
    return new


def set_value(text: str, place: Place, value: str, source: str) -> str:
    """The model value at ``place`` set to ``value`` (a string, its style kept where it can be)."""
    return yamledit.set_scalar(text, place.path, value, place.document, source=source)


def set_number(text: str, place: Place, value: float, source: str) -> str:
    """The number at ``place`` set to ``value``; the key is added when missing (its mapping must be)."""
    node = _node(text, place, source)
    if node is _MISSING:
        return _insert_number(text, place, value, source)
    if type(node).__name__ != "ScalarNode":
        raise YamlEditError(f"{source}: {place.path} is not a number but a {type(node).__name__}")
    written = number_text(value)
    if node.value == written and node.style is None:
        return text
    new = text[: node.start_mark.index] + written + text[node.end_mark.index :]
    number = int(value) if float(value).is_integer() else float(value)
    return _checked(text, new, place, number, source)


def _insert_number(text: str, place: Place, value: float, source: str) -> str:
    """``key: value`` as the first entry of the block mapping at the place's parent, at the indentation
    of its first key (which also works after a sequence's ``- ``)."""
    parent = _node(text, Place(place.document, place.parent), source)
    if parent is _MISSING or type(parent).__name__ != "MappingNode" or not parent.value:
        raise YamlEditError(f"{source}: no mapping {place.parent} to add {place.key} to")
    if parent.flow_style:
        raise YamlEditError(f"{source}: {place.parent} is a flow mapping ({{...}}): add {place.key} by hand")
    first = parent.value[0][0]
    start = first.start_mark.index
    indent = " " * first.start_mark.column
    line = f"{place.key}: {number_text(value)}\n{indent}"
    new = text[:start] + line + text[start:]
    number = int(value) if float(value).is_integer() else float(value)
    return _checked(text, new, place, number, source)


def remove_key(text: str, place: Place, source: str) -> str:
    """``key: value`` (a plain one-line value) taken out of its block mapping, with its line."""
    parent = _node(text, Place(place.document, place.parent), source)
    if parent is _MISSING or type(parent).__name__ != "MappingNode":
        return text
    pairs = parent.value
    index = next((i for i, (k, _) in enumerate(pairs) if getattr(k, "value", None) == place.key), None)
    if index is None:
        return text
    key, value = pairs[index]
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    line_end = text.find("\n", value.end_mark.index)
    line_end = len(text) if line_end < 0 else line_end + 1
    rest = text[value.end_mark.index : line_end].strip()
    if parent.flow_style or type(value).__name__ != "ScalarNode" or (rest and not rest.startswith("#")):
        raise YamlEditError(
            f"{source}: {place.path}: remove it by hand (not a one-line value of a block mapping)"
        )
    if text[line_start : key.start_mark.index].strip() == "":
        new = text[:line_start] + text[line_end:]
    elif index + 1 < len(pairs):
        # The key follows a sequence's "- ": the next key moves up to take its place.
        new = text[: key.start_mark.index] + text[pairs[index + 1][0].start_mark.index :]
    else:
        raise YamlEditError(f"{source}: {place.path}: the only key of its entry; remove it by hand")
    return _checked(text, new, place, _MISSING, source)
