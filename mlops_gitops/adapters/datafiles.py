"""Parse a metrics, params or pipeline file by its extension, as DVC reads them: JSON, TOML, or YAML
(the default). Every parse error is one :class:`~mlops_gitops.errors.MetricsFileError` line,
``path:line:col: invalid FORMAT at REVISION: problem``; YAML goes through :mod:`mlops_gitops.adapters.yamlsafe`."""

from __future__ import annotations

import copy
import functools
import json
import posixpath
from typing import Any

from mlops_gitops.adapters import toml
from mlops_gitops.errors import MetricsFileError, YamlBombError


def parse_file(text: bytes, path: str, where: str) -> Any:
    """Parse JSON, TOML or (by default, as DVC) YAML; errors name ``path:line:col`` and the revision."""
    suffix = posixpath.splitext(path)[1].lower()
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetricsFileError(f"{path}: not UTF-8 text at {where} (byte {exc.start})") from None
    if suffix == ".json":
        try:
            return json.loads(decoded) if decoded.strip() else {}
        except json.JSONDecodeError as exc:
            raise MetricsFileError(
                f"{path}:{exc.lineno}:{exc.colno}: invalid JSON at {where}: {exc.msg}"
            ) from None
    if suffix == ".toml":
        tomllib = toml.tomllib()
        try:
            return tomllib.loads(decoded)
        except tomllib.TOMLDecodeError as exc:
            raise MetricsFileError(f"{path}: invalid TOML at {where}: {exc}") from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        if len(decoded) > _MEMO_CHARS:
            return _load_yaml(decoded, path)
        return copy.deepcopy(_yaml(decoded, path))
    except YamlBombError as exc:
        # The guard's one line, told at which revision, as every other error here is.
        location, _, message = str(exc).partition(": ")
        raise YamlBombError(f"{location}: at {where}: {message}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = (exc.problem or exc.context or "syntax error").strip()
        raise MetricsFileError(f"{path}{loc}: invalid YAML at {where}: {problem}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()
        raise MetricsFileError(f"{path}: invalid YAML at {where}: {first[0] if first else 'error'}") from None


_MEMO_CHARS = 1 << 20  # larger texts are parsed each time rather than kept


@functools.lru_cache(maxsize=64)
def _yaml(text: str, path: str) -> Any:
    """One parse per text a command reads: a report reads params.yaml at the work tree, both
    revisions and the plots, mostly the same bytes (callers get a copy: they may change it)."""
    return _load_yaml(text, path)


def _load_yaml(text: str, path: str) -> Any:
    from mlops_gitops.adapters.yamlsafe import load_safe

    return load_safe(text, path)
