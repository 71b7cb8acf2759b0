"""Make the hash locks mlops-gitops ships for the generated jobs (mlops_gitops/locks/*.txt).

    python .ci/lock.py            # `make locks`; needs uv (PyPI) on PATH or in this Python's bin

One universal lock (every supported Python and platform) for the union of the extras, then one per
extras set the generated jobs install, constrained by the union so every lock pins the same versions
(and the development environment, installed with the union as constraints, matches all of them).
Each lock also pins setuptools, the build backend of the few sdist-only packages in the DVC tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_gitops.locks import EXTRAS, LOCKED, lock_path  # noqa: E402

PYTHON_FLOOR = "3.10"  # requires-python in pyproject.toml


def uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("uv is not installed: `python -m pip install uv`")
    return found


def compile_lock(extras: tuple[str, ...], constraint: Path | None, build_in: Path) -> None:
    out = lock_path(extras)
    args = [
        uv(),
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--generate-hashes",
        "--python-version",
        PYTHON_FLOOR,
        "--custom-compile-command",
        "make locks",
        "--no-emit-index-url",
        "--output-file",
        str(out),
    ]
    for extra in extras:
        args += ["--extra", extra]
    if constraint is not None:
        args += ["--constraint", str(constraint)]
    subprocess.run([*args, str(ROOT / "pyproject.toml"), str(build_in)], check=True, cwd=ROOT)
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        build_in = Path(tmp) / "build-tools.in"
        build_in.write_text("setuptools\n")
        union = tuple(sorted(EXTRAS))
        compile_lock(union, None, build_in)
        for extras in LOCKED:
            if extras != union:
                compile_lock(extras, lock_path(union), build_in)


if __name__ == "__main__":
    main()
