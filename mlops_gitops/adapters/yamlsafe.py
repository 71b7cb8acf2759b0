"""YAML from pull requests, loaded without alias bombs.

Every YAML file the tool reads (mlops.yaml, dvc.yaml, params files, dvc.lock, ``.dvc`` pointers,
deployment manifests) may come from a hostile pull request. ruamel.yaml follows aliases without
bound: ``a: &a [*a]`` builds a self-containing list that later code recurses into until
RecursionError, and nine levels of nine aliases (a "billion laughs" document, a few hundred bytes)
expand to ~10⁹ nodes for anything that walks the loaded data (validation, flattening, JSON). So the
loaders here count while ruamel composes the node graph, before any Python object is constructed:

* an alias to a node that is still being composed is a recursive alias: refused at the alias;
* each alias adds the expanded size of the node it names (sizes are kept per anchored node, so the
  count is linear in the text); more than :data:`MAX_EXPANDED_NODES` added by aliases is refused at
  the alias that crosses it;
* nesting, literal or through aliases, deeper than :data:`MAX_DEPTH` is refused: ruamel's composer
  and constructor recurse once per level, and so does code that walks the result.

A refusal is a :class:`~mlops_gitops.errors.YamlBombError` (exit 2) whose text is one line,
``FILE:LINE:COL: message``, pointing at the offending alias. YAML syntax errors are not this
module's business: they propagate as ruamel's own ``YAMLError`` subclasses, as before.

ruamel.yaml is imported inside the functions, as everywhere else in the package: importing this
module costs nothing on paths that never read YAML.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from mlops_gitops.errors import Problem, YamlBombError

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.error import StreamMark
    from ruamel.yaml.events import AliasEvent
    from ruamel.yaml.nodes import Node

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "YamlBombError", "guard", "load_roundtrip", "load_safe"]

# Far above any legitimate use of anchors (a CI file or Helm values merging a base into a few hundred
# jobs adds some thousands of nodes), far below what hurts: walking 10⁵ nodes takes milliseconds.
MAX_EXPANDED_NODES = 100_000

# Real configuration nests a few tens of levels at most. ruamel's round-trip constructor spends about
# four Python frames per mapping level and this module's composer three, so 100 levels stay well
# inside Python's default recursion limit of 1,000 even when called from deep in a command's stack.
MAX_DEPTH = 100


class _Refused(Exception):
    """Raised inside the composer, where the file name is unknown; becomes a YamlBombError."""

    def __init__(self, mark: StreamMark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def guard(text: str, source: str) -> None:
    """Refuse ``text`` if its aliases recurse or expand too far, without loading it.

    For text then handed to a parser we do not control (DVC's loader for dvc.yaml, params files,
    dvc.lock). Every document of a multi-document stream is checked.

    Text without a ``*`` has no alias, so it returns at once (~1 µs; a ``*`` inside a quoted string
    merely costs the full check, about what composing the text costs). Such text is not parsed at
    all: its syntax errors and deep literal nesting are left to the downstream parser, where they
    fail fast rather than exhausting time or memory. Text that is composed and is not valid YAML
    raises ruamel's ``YAMLError``, as the downstream parser would.
    """
    if "*" not in text:
        return
    yaml = _yaml("safe")
    try:
        for _document in yaml.compose_all(text):
            pass
    except _Refused as exc:
        raise _bomb(source, exc) from None
    except RecursionError:
        raise _too_deep(source) from None


def load_safe(text: str, source: str) -> Any:
    """``YAML(typ="safe").load(text)`` (plain dicts, lists, scalars) once :func:`guard` would pass.

    ``Any``: this is the edge where YAML from outside enters, unvalidated; callers narrow it."""
    return _load("safe", text, source)


def load_roundtrip(text: str, source: str) -> Any:
    """``YAML(typ="rt").load(text)`` (CommentedMap/CommentedSeq with ``.lc`` positions), guarded."""
    return _load("rt", text, source)


def _load(typ: str, text: str, source: str) -> Any:
    # One pass: ruamel composes the whole document (our composer counting as it goes) before it
    # constructs anything, so a refusal comes before any object built from an alias exists.
    yaml = _yaml(typ)
    try:
        return yaml.load(text)
    except _Refused as exc:
        raise _bomb(source, exc) from None
    except RecursionError:
        # The depth bound keeps ruamel well clear of the limit; this is for a caller already deep.
        raise _too_deep(source) from None


def _yaml(typ: str) -> YAML:
    from ruamel.yaml import YAML

    # pure=True: with ruamel's C extension installed, the safe loader composes in C and would never
    # call our composer (the round-trip loader is always pure Python).
    yaml = YAML(typ=typ, pure=True)
    yaml.Composer = _guarded_composer()
    return yaml


def _bomb(source: str, exc: _Refused) -> YamlBombError:
    mark = exc.mark
    return YamlBombError(str(Problem(source, mark.line + 1, mark.column + 1, "", exc.message)))


def _too_deep(source: str) -> YamlBombError:
    message = "nesting too deep for the YAML loader; refusing to load it"
    return YamlBombError(str(Problem(source, None, None, "", message)))


@functools.cache
def _guarded_composer() -> type[Composer]:
    """ruamel's Composer, counting expanded sizes and depths as it composes (built on first use)."""
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent

    class GuardedComposer(Composer):
        def __init__(self, loader: YAML | None = None) -> None:
            super().__init__(loader)
            # [expanded size, height] of each node being composed, outermost first.
            self._open: list[list[int]] = []
            # [expanded size, height] of each anchored node composed in full; an alias to an anchored
            # node missing here names one of its own ancestors.
            self._done: dict[Node, tuple[int, int]] = {}
            # Nodes that aliases have added beyond the text's own, over the whole stream.
            self._added = 0

        def compose_node(self, parent: Node | None, index: object) -> Node:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent):
                node = super().compose_node(parent, index)  # the anchored node itself, not a copy
                self._count_alias(node, event)
                return node
            if len(self._open) >= MAX_DEPTH:
                raise _Refused(
                    event.start_mark, f"nesting deeper than {MAX_DEPTH} levels; refusing to load it"
                )
            self._open.append([1, 1])
            node = super().compose_node(parent, index)
            size, height = self._open.pop()
            if node.anchor is not None:
                self._done[node] = (size, height)
            if self._open:
                self._add_child(size, height)
            return node

        def _count_alias(self, node: Node, event: AliasEvent) -> None:
            name = event.anchor
            done = self._done.get(node)
            if done is None:
                raise _Refused(
                    event.start_mark, f"recursive alias *{name} (a YAML alias may not contain itself)"
                )
            size, height = done
            self._added += size
            if self._added > MAX_EXPANDED_NODES:
                raise _Refused(
                    event.start_mark,
                    f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                    '(a "billion laughs" document); refusing to load it',
                )
            if len(self._open) + height > MAX_DEPTH:
                raise _Refused(
                    event.start_mark,
                    f"alias *{name} nests the document deeper than {MAX_DEPTH} levels; refusing to load it",
                )
            if self._open:
                self._add_child(size, height)

        def _add_child(self, size: int, height: int) -> None:
            parent = self._open[-1]
            parent[0] += size
            if height + 1 > parent[1]:
                parent[1] = height + 1

    return GuardedComposer
