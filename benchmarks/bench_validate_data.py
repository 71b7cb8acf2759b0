"""validate-data against pandera on the same CSV and the same rules, in the same run.

Generates a CSV of 1,000,000 rows x 10 columns (a few hundred bad values spread through it), then
runs each validator in its own subprocess and reports wall time (parent-side, interpreter start
included for both) and peak resident memory (the child's own ``ru_maxrss``). pandera needs pandas;
both are installed into .venv for this benchmark only (``pip install pandera pandas``).

    .venv/bin/python benchmarks/bench_validate_data.py [ROWS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Measure the tool as an installed package runs: with bytecode caches (pip compiles them at install).
# Without them every run recompiles the package from source and the figures measure its size.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = 3

MANIFEST = """\
version: 1
project: {name: bench}
stages:
  train: {cmd: "true"}
data:
  checks:
    - path: data.csv
      min_rows: 1000
      columns:
        id: {type: int, unique: true, not_null: true}
        user: {type: string, pattern: "u[0-9]+", not_empty: true}
        age: {type: int, min: 0, max: 120}
        score: {type: float, min: 0, max: 1}
        country: {type: string, allowed: [fr, de, it, es, us]}
        segment: {type: string, not_null: true}
        ts: {type: datetime}
        flag: {type: bool}
        amount: {type: float, not_null: true, min: 0}
        code: {type: string, pattern: "[A-Z]{3}-[0-9]{4}"}
"""

# VmHWM is the peak of this process image only; ru_maxrss would carry over the parent's peak
# across fork+exec on Linux.
PEAK = """
def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""

OURS = (
    PEAK
    + """
import sys
from mlops_gitops.cli import main
try:
    code = main(["validate-data", "--format", "json", "--output", "out.json"]) or 0
except SystemExit as exc:
    code = exc.code
print("RESULT", code, peak_kib(), file=sys.stderr)
"""
)

PANDERA = (
    PEAK
    + """
import sys
import pandas as pd
import pandera.pandas as pa

df = pd.read_csv("data.csv", parse_dates=["ts"], dtype={"user": str, "country": str, "segment": str, "code": str})
schema = pa.DataFrameSchema(
    {
        "id": pa.Column(int, unique=True, nullable=False),
        "user": pa.Column(str, [pa.Check.str_matches(r"^u[0-9]+$"), pa.Check(lambda s: s.str.strip() != "")]),
        "age": pa.Column(int, pa.Check.in_range(0, 120)),
        "score": pa.Column(float, pa.Check.in_range(0, 1)),
        "country": pa.Column(str, pa.Check.isin(["fr", "de", "it", "es", "us"])),
        "segment": pa.Column(str, nullable=False),
        "ts": pa.Column(pa.DateTime),
        "flag": pa.Column(bool),
        "amount": pa.Column(float, pa.Check.ge(0), nullable=False),
        "code": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}-[0-9]{4}$")),
    },
    checks=[pa.Check(lambda d: len(d) >= 1000, element_wise=False)],
)
try:
    schema.validate(df, lazy=True)
    code = 0
except pa.errors.SchemaErrors as exc:
    code = 1
    failures = len(exc.failure_cases)
print("RESULT", code, peak_kib(), file=sys.stderr)
"""
)


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    age = rng.integers(0, 100, rows)
    score = rng.random(rows)
    amount = rng.exponential(50, rows)
    bad = rng.choice(rows, 300, replace=False)
    age[bad[:100]] = 150  # out of range
    score[bad[100:200]] = 1.5
    ids[bad[200]] = ids[bad[201]]  # one duplicated id
    start = np.datetime64("2024-01-01T00:00:00")
    country = rng.choice(["fr", "de", "it", "es", "us"], rows).astype(object)
    country[bad[202:300]] = "xx"
    table = pa.table(
        {
            "id": ids,
            "user": pa.array(np.char.add("u", rng.integers(0, 10**6, rows).astype(str))),
            "age": age,
            "score": score,
            "country": pa.array(country.tolist(), pa.string()),
            "segment": rng.choice(["web", "ios", "android"], rows),
            "ts": pa.array(start + rng.integers(0, 365 * 86400, rows).astype("timedelta64[s]")),
            "flag": rng.random(rows) < 0.5,
            "amount": amount,
            "code": pa.array(
                np.char.add(
                    rng.choice(["ABC", "XYZ", "QRS"], rows),
                    np.char.add("-", rng.integers(1000, 9999, rows).astype(str)),
                )
            ),
        }
    )
    pcsv.write_csv(table, path)


def measure(code: str, cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak MiB, exit code) of the best of REPEATS runs."""
    best: tuple[float, float, int] | None = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - start
        line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"benchmark child failed:\n{proc.stderr[-2000:]}")
        _, exit_code, rss = line.split()
        result = (wall, int(rss) / 1024, int(exit_code))
        if best is None or result[0] < best[0]:
            best = result
    assert best is not None
    return best


def main() -> None:
    try:
        import pandera  # noqa: F401
    except ImportError:
        raise SystemExit("pandera is not installed: .venv/bin/pip install pandera pandas") from None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "mlops.yaml").write_text(MANIFEST, encoding="utf-8")
        generate(root / "data.csv", ROWS)
        size = os.path.getsize(root / "data.csv") / 2**20
        print(f"validate-data vs pandera: {ROWS:,} rows x 10 columns, {size:.0f} MiB CSV, best of {REPEATS}")
        ours = measure(OURS, root)
        report = json.loads((root / "out.json").read_text(encoding="utf-8"))
        failed = {
            (c["check"], c["column"]): c["bad_rows"]
            for f in report["files"]
            for c in f["checks"]
            if not c["passed"]
        }
        theirs = measure(PANDERA, root)
        print(
            f"  mlops-gitops validate-data: {ours[0]:6.2f} s  peak {ours[1]:7.0f} MiB  exit {ours[2]}  failures {failed}"
        )
        print(
            f"  pandera (pandas read_csv):  {theirs[0]:6.2f} s  peak {theirs[1]:7.0f} MiB  exit {theirs[2]}"
        )
        print(
            f"  time ratio (pandera / ours): {theirs[0] / ours[0]:.2f}x   memory ratio: {theirs[1] / ours[1]:.2f}x"
        )
        print(f"  target: not slower than pandera -> {'met' if ours[0] <= theirs[0] else 'MISSED'}")


if __name__ == "__main__":
    main()
