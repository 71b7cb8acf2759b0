"""Installed size and install time of mlops-gitops per generated job (issue 11).

Each generated job installs only the extras it needs (templates/github/workflows/*.j2 through
``install_tool``). This builds the wheel of this checkout and installs it, once per job kind, into a
fresh virtual environment, the way the job's step does (``pip install "<wheel>[extras]"``), and
reports site-packages size (a fresh venv's own pip and setuptools, 22 MB on Python 3.11, included)
and wall time. The baseline, measured in the same run the same way, is
``[all]``: what every job installed before the split. Targets: the PR check job and the comment job
install no DVC, pyarrow or SciPy, and each is under a quarter of the baseline's size.

pip's own cache is shared by every install (a warm cache, as actions/setup-python's pip cache gives a
runner from the second run on), so times compare unpacking and resolving, not the network.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Job kind -> the extras its install step names (see render/workflows.py and the templates).
JOBS = {
    "mlops-pr / check (validate, generate --check, changed)": (),
    "mlops-comment (sticky comment)": ("github",),
    "mlops-deploy (promotion PR)": ("github",),
    "mlops-pr / train, mlops-train (no data checks)": ("dvc",),
    "mlops-pr / train, mlops-train (data checks)": ("dvc", "data"),
    "mlops-monitor": ("github", "data", "dvc"),
}
HEAVY = ("dvc", "pyarrow", "scipy", "numpy")


def site_size(venv: Path) -> int:
    (site,) = venv.glob("lib/python*/site-packages")
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def install(wheel: Path, extras: tuple[str, ...], where: Path, cache: Path) -> tuple[float, int, set[str]]:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    spec = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    start = time.perf_counter()
    proc = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--cache-dir", str(cache), spec],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pip install {spec} failed:\n{proc.stderr}")
    listed = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    return seconds, site_size(where), names


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(scratch), str(ROOT)],
            check=True,
            capture_output=True,
        )
        (wheel,) = scratch.glob("mlops_gitops-*.whl")
        cache = scratch / "pip-cache"
        install(wheel, ("dvc", "github", "data"), scratch / "warm", cache)  # fill pip's cache
        base_s, base_size, _ = install(wheel, ("all",), scratch / "baseline", cache)
        print(f"baseline [all]: {base_size / 1e6:.1f} MB installed, {base_s:.1f} s")
        failed = False
        for index, (job, extras) in enumerate(JOBS.items()):
            seconds, size, names = install(wheel, extras, scratch / f"job{index}", cache)
            heavy = sorted(n for n in HEAVY if n in names)
            label = f"[{','.join(extras)}]" if extras else "core"
            print(
                f"{job:55} {label:18} {size / 1e6:6.1f} MB ({size / base_size:.2f}x)  "
                f"{seconds:5.1f} s ({seconds / base_s:.2f}x)  heavy: {', '.join(heavy) or 'none'}"
            )
            if not set(extras) & {"dvc", "data"}:
                failed |= bool(heavy) or size > base_size / 4
        print("targets:", "FAIL" if failed else "ok (light jobs carry no DVC/pyarrow/SciPy, < 1/4 of [all])")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
