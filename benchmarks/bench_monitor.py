"""monitor on 1,000,000 logged rows: target under 5 s on a 2-core machine.

The logs are four CSV files of 250,000 rows (a timestamp, 6 numeric and 2 categorical features, a
segment column with 3 values and a predicted class); the baseline is a 200,000-row Parquet file.
There is no window, so every logged row is compared: overall and per segment, PSI + KS for each
numeric feature, chi-square for each categorical one, prediction shares. The whole command runs in
a subprocess (interpreter start, reading, statistics, writing both reports); best of 3.

    .venv/bin/python benchmarks/bench_monitor.py [ROWS]
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
BASELINE_ROWS = 200_000
TARGET_SECONDS = 5.0
REPEATS = 3

MANIFEST = """\
version: 1
project: {name: bench}
stages:
  train: {cmd: "true"}
monitoring:
  logs: logs
  baseline: baseline.parquet
  prediction: pred
  segments: [channel]
  timestamp: ts
  categorical: [plan, country]
"""


def frame(n: int, seed: int, shift: float, start: str) -> object:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns = {"ts": pa.array(np.datetime64(start) + np.arange(n).astype("timedelta64[s]"))}
    for i in range(6):
        columns[f"x{i}"] = pa.array(rng.normal(shift * (i % 2), 1 + i / 10, n))
    columns["plan"] = pa.array(rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]))
    columns["country"] = pa.array(rng.choice([f"c{i}" for i in range(20)], n))
    columns["channel"] = pa.array(rng.choice(["web", "ios", "android"], n))
    columns["pred"] = pa.array(rng.choice(["churn", "stay"], n, p=[0.2 + shift / 10, 0.8 - shift / 10]))
    return pa.table(columns)


def generate(root: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    pq.write_table(frame(BASELINE_ROWS, 0, 0.0, "2024-01-01"), root / "baseline.parquet")
    (root / "logs").mkdir()
    part = ROWS // 4
    for day in range(4):
        pcsv.write_csv(frame(part, day + 1, 0.3, f"2024-03-0{day + 1}"), root / "logs" / f"day{day + 1}.csv")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "mlops.yaml").write_text(MANIFEST, encoding="utf-8")
        generate(root)
        size = sum(f.stat().st_size for f in (root / "logs").iterdir()) / 2**20
        cmd = [
            str(Path(sys.executable).parent / "mlops-gitops"),
            "monitor",
            "--no-github",
            "--output",
            "report.md",
            "--json-output",
            "report.json",
        ]
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - start)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"monitor failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        report = json.loads((root / "report.json").read_text(encoding="utf-8"))
        best = min(times)
        print(
            f"monitor: {ROWS:,} logged rows ({size:.0f} MiB CSV in 4 files), baseline {BASELINE_ROWS:,} rows, "
            f"{len(report['groups'])} groups x {sum(len(v) for v in report['features'].values())} features, "
            f"{os.cpu_count()} CPUs"
        )
        print(f"  wall time best of {REPEATS}: {best:.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})")
        print(
            f"  target: under {TARGET_SECONDS:.0f} s -> {'met' if best < TARGET_SECONDS else 'MISSED'}; drift={report['drift']}"
        )


if __name__ == "__main__":
    main()
