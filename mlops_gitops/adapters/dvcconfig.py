"""DVC's repository config (``.dvc/config``) read as the INI file it is, without importing DVC: the
remotes and their URLs, and ``core.remote``. ``.dvc/config.local`` is never read: CI never sees it."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from mlops_gitops.errors import UsageError

_REMOTE_SECTION = re.compile(r"""^'?remote\s+"(?P<name>[^"]+)"'?$""")


def dvc_remotes(root: Path) -> tuple[dict[str, str], str | None]:
    """(every remote of .dvc/config and its url, core.remote)."""
    config = root / ".dvc" / "config"
    if not config.is_file():
        return {}, None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(config.read_text(encoding="utf-8"), source=str(config))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise UsageError(f".dvc/config: cannot parse: {str(exc).splitlines()[0]}") from None
    remotes: dict[str, str] = {}
    for section in parser.sections():
        match = _REMOTE_SECTION.match(section.strip())
        if match:
            remotes[match.group("name")] = parser.get(section, "url", fallback="").strip()
    default = parser.get("core", "remote", fallback="").strip() or None
    return remotes, default
