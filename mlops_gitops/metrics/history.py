"""Values of the gated metrics over the last N commits of the base branch, for the charts.

All files at all commits are read by one ``git cat-file --batch`` process: a history of 20 commits
costs one fork, not 20 ``git show`` calls. Files that only the DVC cache holds have no history here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlops_gitops.adapters.datafiles import parse_file
from mlops_gitops.errors import MetricsFileError
from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics import gates as G
from mlops_gitops.metrics.collect import Reader, cat_files, first_parents
from mlops_gitops.metrics.flatten import Scalar, flatten_metrics, number


@dataclass
class History:
    """``commits`` oldest first; ``series[(file, key)]`` one value (or None) per commit."""

    commits: list[str] = field(default_factory=list)
    series: dict[tuple[str, str], list[float | None]] = field(default_factory=dict)


def charted(gates: tuple[Gate, ...] | list[Gate], files: list[str]) -> list[tuple[str, str]]:
    """(file, key) pairs to chart: every gate. A pattern gate (``per_class.*.f1``) is charted as its
    worst segment at each commit, which is what the gate judges."""
    out: list[tuple[str, str]] = []
    for gate in gates:
        for file in [gate.file] if gate.file else files:
            out.append((file, gate.metric))
    return list(dict.fromkeys(out))


def worst_of(gate: Gate, file: str, flat: dict[str, Scalar]) -> float | None:
    """The worst finite value among the segments a pattern gate matches in one file."""
    values = [v for k, v in flat.items() if G.matches(gate, file, k)]
    finite = [n for n in (number(v) for v in values) if n is not None and math.isfinite(n)]
    if not finite:
        return None
    return min(finite) if gate.direction == "higher" else max(finite)


def collect_history(
    reader: Reader,
    base_sha: str,
    depth: int,
    files: list[str],
    wanted: list[tuple[str, str]],
    gates: tuple[Gate, ...] | list[Gate] = (),
) -> History:
    """Read ``wanted`` metrics at the last ``depth`` first-parent commits up to ``base_sha``."""
    history = History()
    if depth <= 0 or not wanted:
        return history
    shas = first_parents(reader.top, base_sha, depth)
    if not shas:
        return history
    shas.reverse()
    needed = list(dict.fromkeys(f for f, _ in wanted if f in files))
    blobs = cat_files(reader.top, (f"{sha}:{reader.git_path(f)}" for sha in shas for f in needed))
    history.commits = [sha[:7] for sha in shas]
    for pair in wanted:
        history.series[pair] = []
    for i, sha in enumerate(shas):
        flat: dict[str, dict[str, Scalar]] = {}
        for j, file in enumerate(needed):
            blob = blobs[i * len(needed) + j]
            if blob is None:
                continue
            try:
                flat[file] = flatten_metrics(parse_file(blob, file, sha[:7]))
            except MetricsFileError:
                continue  # an old broken commit must not break today's report
        patterns = {g.metric: g for g in gates if g.is_pattern}
        for file, key in wanted:
            if key in patterns:
                history.series[(file, key)].append(worst_of(patterns[key], file, flat.get(file, {})))
                continue
            value = number(flat.get(file, {}).get(key))
            history.series[(file, key)].append(value if value is not None and math.isfinite(value) else None)
    return history
