"""The check stamp: what ``generate`` wrote its files from, in one header line of the committed record
(``.mlops/pipelines.yaml``), so that ``generate --check`` in a fresh clone (every CI check job: no memo
in ``.git``) can answer "current" by hashing, without validating the manifest, resolving a pipeline or
rendering a template (jsonschema, jinja2 and ruamel.yaml are not imported).

A stamp lists what the full path reads besides the manifest: the files the pipelines' fingerprint read
(``sources``, with their own digest, which ``load_project`` also trusts), the paths whose existence the
rendering looks at (``probes``: requirements files, pipeline inputs), the generated files
(``outputs``), the action pins as rendered (``pins``) and whether the running install's provenance is
rendered (``env``: no ``python.tool``). ``check`` is one digest over the stamp and over what it stands
for: the tool's contents (``fingerprint.tool_content``: the same on every machine running the same
tool), the manifest's bytes, the listing of dvc.yaml and ``.dvc`` files, what each probe found, the
running install's ``direct_url.json`` when rendered, each generated file (a workflow by its header and
its body with pins normalized, any other by its bytes) and the record without its stamp.

:func:`current` computes both digests again from the tree. Both equal: every input the full path would
read is what it was when the files on disk were generated from it, and they are unedited (a pin that
Dependabot or Renovate moved counts only where ``pins.choose`` keeps it), so the full path would render
exactly them: current. ``check`` equal, ``sources`` not (a params value or a stage command changed):
the fingerprint is computed (YAML, but no DVC and no rendering) and compared with the record's. Any
other difference, an extra generated workflow, no stamp: the full path decides.

No hash covers the stamp and plans compare files without it, so a stale stamp (written by another build
of the tool, or before a params edit) costs speed only. Like the record itself, it is committed text that
whoever can write the repository can also forge; a hand edit of a generated file does not match it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.names import MANIFEST_FILE, WORKFLOWS_DIR
from mlops_gitops.pipeline import fingerprint as fp

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.files import Header, Plan, Rendered
    from mlops_gitops.pipeline.project import Project

VERSION = 1
# pipeline.record.RECORD_FILE, named here so that the check's fast path does not import the facts
# model to find it (tests/test_stamp.py keeps the two equal).
RECORD = ".mlops/pipelines.yaml"
DIST_INFO_NAME = "mlops_gitops"  # "mlops-gitops" as importlib.metadata normalizes it
UNKNOWN = "\0unknown"  # an install whose provenance cannot be read without importlib.metadata


def _egg_name(entry: str) -> str:
    return os.path.basename(entry).lower().rpartition(".")[0].partition("-")[0]


def installed_direct_url() -> str | None:
    """The running install's ``direct_url.json`` text (None without one), found where
    ``importlib.metadata.distribution("mlops-gitops")`` finds it (the first ``.dist-info`` or
    ``.egg-info`` along ``sys.path``), without importing ``importlib.metadata`` (a fifth of the import
    floor). :data:`UNKNOWN` where that search could differ (another finder, a zip on the path)."""
    import importlib.machinery
    import re

    for finder in sys.meta_path:
        if finder is not importlib.machinery.PathFinder and hasattr(finder, "find_distributions"):
            return UNKNOWN
    for entry in sys.path:
        try:
            children = os.listdir(entry or ".")
        except OSError:
            if os.path.isfile(entry):
                return UNKNOWN  # a zip: importlib.metadata would look inside
            continue
        egg = os.path.basename(entry).lower().endswith(".egg")
        infos: list[str] = []
        eggs: list[str] = []
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                name = low.rpartition(".")[0].partition("-")[0]
                # Only a name starting "mlops" can normalize to ours: the regex runs for those only
                # (a site-packages holds hundreds of dist-infos, and compiling it costs milliseconds).
                if name.startswith("mlops") and re.sub(r"[-_.]+", "_", name) == DIST_INFO_NAME:
                    infos.append(child)
            elif egg and low == "egg-info" and _egg_name(entry) == DIST_INFO_NAME:
                eggs.append(child)
        for child in (*infos, *eggs):
            try:
                with open(os.path.join(entry, child, "direct_url.json"), encoding="utf-8") as handle:
                    return handle.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
                return None
    return None


def _header(text: str) -> Header | None:
    # adapters.files is imported only here and below: a check the memo answers never needs it.
    from mlops_gitops.adapters.files import parse_header

    return parse_header(text)


def _stamp_of(text: str) -> dict[str, object] | None:
    from mlops_gitops.adapters.files import stamp_of

    return stamp_of(text)


def _without_stamp(text: str) -> str:
    from mlops_gitops.adapters.files import without_stamp

    return without_stamp(text)


def probe(root: Path, path: str) -> str:
    """What rendering can tell of ``path``: a file (``f``), a folder (``d``) or neither (``-``)."""
    try:
        mode = os.stat(root / path).st_mode
    except (OSError, ValueError):
        return "-"
    return "f" if stat.S_ISREG(mode) else "d" if stat.S_ISDIR(mode) else "-"


def probed_paths(project: Project) -> list[str]:
    """Every path whose existence the rendering looks at: the requirements files (setup-python's pip
    cache takes only those that exist) and each pipeline input (a folder is also a ``folder/**``
    trigger pattern). A superset does no harm: it only makes the stamp notice more."""
    manifest = project.manifest
    paths = list(manifest.requirements)
    if not manifest.trigger_paths:
        outs = project.facts.outs()
        paths += [path for pipeline in project.pipelines for path in pipeline.inputs(outs)]
    return list(dict.fromkeys(paths))


def output_key(path: str, text: str) -> str | None:
    """What a generated file contributes: a workflow's header and its body with action pins normalized
    (a moved pin is checked apart, :func:`_pins_kept`); any other file, its bytes. None: no header."""
    from mlops_gitops.adapters.files import body_digest

    if not path.startswith(f"{WORKFLOWS_DIR}/"):
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    parsed = _header(text)
    if parsed is None:
        return None
    head = text[: len(text) - len(parsed.body)]
    return hashlib.sha256(head.encode("utf-8")).hexdigest() + body_digest(parsed.body)


def _digest(parts: Mapping[str, object]) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def check_digest(
    stamp: Mapping[str, object],
    *,
    manifest: bytes,
    env: str | None,
    listed: Sequence[str],
    probes: Mapping[str, str],
    outputs: Mapping[str, str | None],
    record: str,
) -> str:
    """The ``check`` digest: the stamp (all but itself) and what it stands for (see the module)."""
    return _digest(
        {
            "stamp": {k: v for k, v in stamp.items() if k != "check"},
            "tool": fp.tool_content(),
            "manifest": hashlib.sha256(manifest).hexdigest(),
            "env": env,
            "listed": sorted(listed),
            "probes": probes,
            "outputs": outputs,
            "record": hashlib.sha256(_without_stamp(record).encode("utf-8")).hexdigest(),
        }
    )


# --- written by generate ---------------------------------------------------------------------------


def _rendered_pins(rendered: Sequence[Rendered]) -> dict[str, str]:
    """Each action's pin as the tool's table rendered it (an action rendered with two pins is left
    out: a moved pin of it then sends the check down the full path)."""
    from mlops_gitops.adapters.pins import parse

    found: dict[str, str | None] = {}
    for item in rendered:
        if item.path.startswith(f"{WORKFLOWS_DIR}/"):
            for pin in parse(item.text):
                found[pin.action] = pin.ref if found.get(pin.action, pin.ref) == pin.ref else None
    return {action: ref for action, ref in found.items() if ref is not None}


def make(
    tree: fp.WorkTree,
    project: Project,
    manifest: bytes,
    probes: Mapping[str, str],
    final: Sequence[Rendered],
    rendered: Sequence[Rendered],
) -> dict[str, object] | None:
    """The stamp of a generate: ``manifest``, the bytes it was loaded from; ``probes``, what each
    :func:`probed_paths` held before rendering; ``final``, every file as it will be written (the
    record without a stamp yet) and ``rendered``, before Dependabot's pins were kept. None when this
    install's provenance cannot be read as the check will read it."""
    from importlib import metadata

    from mlops_gitops.render.toolsource import DIST

    env = None
    if not project.manifest.tool:
        env = installed_direct_url()
        try:
            expected = metadata.distribution(DIST).read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            expected = None
        if env != expected:
            return None
    sources = project.sources
    if sources is None:
        return None
    record = next(item.text for item in final if item.path == RECORD)
    outputs = {item.path: output_key(item.path, item.text) for item in final if item.path != RECORD}
    stamp: dict[str, object] = {
        "v": VERSION,
        "sources": {
            "dvcfiles": list(sources.dvcfiles),
            "read": list(sources.read),
            "digest": fp.sources_digest(
                tree, project.fingerprint, sources, project.listed, project.overrides
            ),
        },
        "probes": sorted(probes),
        "outputs": sorted(outputs),
        "pins": _rendered_pins(rendered),
        "env": not project.manifest.tool,
    }
    stamp["check"] = check_digest(
        stamp,
        manifest=manifest,
        env=env,
        listed=project.listed,
        probes=probes,
        outputs=outputs,
        record=record,
    )
    return stamp


def settle(the_plan: Plan, *, check: bool) -> Plan:
    """The plan with a record that differs from the tree only by its stamp left unchanged: always in a
    check (a stale stamp makes a check slower, never failed), and in a generate that writes nothing
    else, unless the record on disk carries no stamp of this version (so the next commit gets one).
    Otherwise a generate writes the fresh stamp with whatever else it writes."""
    from mlops_gitops.adapters.files import Action, Plan

    writes = [a for a in the_plan.writes if a.path != RECORD]
    actions = []
    for action in the_plan.actions:
        if action.path == RECORD and action.op == "update" and action.old is not None:
            same = _without_stamp(action.old) == _without_stamp(action.new or "")
            old_stamp = _stamp_of(action.old)
            fresh = old_stamp is not None and old_stamp.get("v") == VERSION
            if same and (check or (not writes and fresh)):
                action = Action(action.path, "unchanged", action.old, action.old)
        actions.append(action)
    return Plan(actions)


# --- read by generate --check ----------------------------------------------------------------------


def _read_text(root: Path, path: str) -> str | None:
    try:
        return (root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _pins_kept(body: str, table: Mapping[str, object]) -> bool:
    """Whether the full path would keep every pin of ``body`` where it is: pins the tool rendered, or
    moved by Dependabot or Renovate (every occurrence of the action alike) where ``choose`` keeps them."""
    from mlops_gitops.adapters.pins import Pin, agreed, choose, parse

    # A pin is a whole `uses:` line: the others need no regular expression.
    lines = "\n".join(line for line in body.split("\n") if "uses:" in line)
    found = parse(lines)
    settled = agreed(lines) if found else {}
    for pin in found:
        ref = table.get(pin.action)
        if not isinstance(ref, str):
            return False
        if pin.ref != ref:
            sha, _, version = ref.partition(" # ")
            if settled.get(pin.action) != pin or choose(Pin(pin.action, sha, version or None), pin) != pin:
                return False
    return True


def _extra_workflows(root: Path, outputs: Sequence[object]) -> bool:
    """Whether a workflow of ours that the stamp does not list is on disk (the full path would remove
    it, or keep it as edited: either way it decides)."""
    folder = root / WORKFLOWS_DIR
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        rel = f"{WORKFLOWS_DIR}/{entry.name}"
        if rel in outputs or not entry.name.endswith((".yml", ".yaml")) or not entry.is_file():
            continue
        text = _read_text(root, rel)
        if text is None or _header(text) is not None:
            return True
    return False


class Answer:
    """What :func:`current` found: ``files`` (every generated file's bytes hashed, for the memo) and
    ``inputs`` (what the fingerprint read), when the tree is current."""

    __slots__ = ("files", "inputs")

    def __init__(self, files: dict[str, str], inputs: Sequence[str]) -> None:
        self.files = files
        self.inputs = list(inputs)


def current(root: Path, tree: fp.WorkTree) -> Answer | None:
    """The files on disk are exactly what ``generate`` would write now, shown by hashing alone (the
    module says how); None: the full path must decide."""
    raw_record = tree.read(RECORD)
    manifest = tree.read(MANIFEST_FILE)
    if raw_record is None or manifest is None or not (root / ".git").exists():
        return None
    try:
        record = raw_record.decode("utf-8")
    except UnicodeDecodeError:
        return None
    stamp = _stamp_of(record)
    if stamp is None or stamp.get("v") != VERSION:
        return None
    outputs, probes, pins = stamp.get("outputs"), stamp.get("probes"), stamp.get("pins")
    sources = stamp.get("sources")
    if not (isinstance(outputs, list) and isinstance(probes, list) and isinstance(pins, dict)):
        return None
    if not isinstance(sources, dict) or not all(isinstance(p, str) for p in (*outputs, *probes)):
        return None
    texts = {path: _read_text(root, path) for path in outputs}
    keys: dict[str, str | None] = {}
    for path, text in texts.items():
        if text is None:
            return None
        keys[path] = output_key(path, text)
        parsed = _header(text) if path.startswith(f"{WORKFLOWS_DIR}/") else None
        if parsed is not None and not _pins_kept(parsed.body, pins):
            return None
    listed = tree.listing
    expected = check_digest(
        stamp,
        manifest=manifest,
        env=installed_direct_url() if stamp.get("env") else None,
        listed=listed,
        probes={path: probe(root, path) for path in probes},
        outputs=keys,
        record=record,
    )
    if expected != stamp.get("check") or _extra_workflows(root, outputs):
        return None
    found = _sources_hold(root, tree, stamp, record, listed)
    if found is None:
        return None
    files = {
        path: hashlib.sha256(text.encode("utf-8")).hexdigest()
        for path, text in texts.items()
        if text is not None
    }
    files[RECORD] = hashlib.sha256(raw_record).hexdigest()
    return Answer(files, found.read)


def _sources_hold(
    root: Path, tree: fp.WorkTree, stamp: Mapping[str, object], record: str, listed: Sequence[str]
) -> fp.Sources | None:
    """The fingerprint's sources, when the record's fingerprint is still the fingerprint: by their
    digest, else (a file they read changed) by computing it, which parses YAML but needs no DVC."""
    parsed = _header(record)
    try:
        print_ = json.loads(parsed.body)["fingerprint"] if parsed is not None else None
    except (ValueError, KeyError, TypeError):
        return None
    sources = stamp.get("sources")
    covered = sources.get("dvcfiles") if isinstance(sources, dict) else None
    if not isinstance(print_, str) or not isinstance(covered, list):
        return None
    held = fp.verified_sources(tree, stamp, print_, covered, listed)
    if held is not None:
        return held
    reads: list[str] = []
    if fp.fingerprint(root, covered, None, listed, tree=tree, reads=reads) != print_:
        return None
    return fp.Sources(covered, reads)
