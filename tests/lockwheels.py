"""The archives of a hash lock in one folder: the "package index" of a generated job's cold install.

uv's cache (``make test`` warms it) holds every locked package unpacked, not as the archive the lock
hashes, so a run that must start from an empty uv cache (the tool-cache test, benchmarks/bench_setup.py)
takes the archives from here instead (``UV_FIND_LINKS`` with ``UV_NO_INDEX``). They are the very files
of the package index, downloaded once by pip with ``--require-hashes`` (PyPI, like ``make test``) and
kept beside the virtual environment, one folder per lock text, shared by parallel test workers.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops_gitops.locks import lock_text

HOUSES = Path(sys.executable).parent.parent / "act-lockhouse"


def lock_wheelhouse(extras: tuple[str, ...], remotes: tuple[str, ...] = ()) -> Path:
    """A folder with the archive of every package of the merged lock ``extras`` (+ ``remotes``) for this
    interpreter and platform, wheels where the index has them (the lock's sdists otherwise)."""
    text = lock_text(extras, remotes)
    where = HOUSES / hashlib.sha256(text.encode()).hexdigest()[:20]
    HOUSES.mkdir(exist_ok=True)
    with open(HOUSES / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if (where / ".complete").is_file():
            return where
        shutil.rmtree(where, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            requirements = Path(tmp) / "lock.txt"
            requirements.write_text(text)
            # No build isolation: an sdist's metadata is prepared with this environment's setuptools
            # rather than one fetched unpinned.
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--require-hashes",
                    "--no-build-isolation",
                    "--dest",
                    str(Path(tmp) / "house"),
                    "-r",
                    str(requirements),
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise RuntimeError(f"pip could not download the locked archives:\n{proc.stderr[-3000:]}")
            shutil.move(str(Path(tmp) / "house"), where)
        (where / ".complete").write_text("")
    return where
