"""What the YAML bomb guard costs on ordinary files, against plain ruamel.yaml in the same run.

Targets (security finding 7): on a ~200-line dvc.yaml without aliases, `guard` takes about a
microsecond (one substring scan); on a CI/Helm-style file that leans on anchors and aliases,
`load_safe` costs at most 1.5x plain `YAML(typ="safe")` (measured ~1.05x).

    .venv/bin/python benchmarks/bench_yamlsafe.py

Prints the best of five timings and the ratio; exits 1 when a target is missed.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402

from mlops_gitops.adapters.yamlsafe import guard, load_safe  # noqa: E402
from tests.test_yamlsafe import ci_with_anchors, dvc_yaml  # noqa: E402


def best(fn: Callable[[], object], number: int) -> float:
    fastest = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        fastest = min(fastest, (time.perf_counter() - start) / number)
    return fastest


def main() -> int:
    plain = dvc_yaml()
    guard_s = best(lambda: guard(plain, "dvc.yaml"), 1_000)
    anchors = ci_with_anchors()
    ours = best(lambda: load_safe(anchors, "f.yaml"), 5)
    theirs = best(lambda: YAML(typ="safe", pure=True).load(anchors), 5)
    ratio = ours / theirs
    print(
        f"guard on a {plain.count(chr(10))}-line dvc.yaml without aliases: {guard_s * 1e6:.1f} µs (target < 100 µs)"
    )
    print(
        f"load_safe vs YAML(typ='safe') on a file with anchors: {ours * 1e3:.2f} ms vs {theirs * 1e3:.2f} ms"
    )
    print(f"ratio guarded/plain: {ratio:.2f} (target < 1.5)")
    return 0 if guard_s < 1e-4 and ratio < 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
