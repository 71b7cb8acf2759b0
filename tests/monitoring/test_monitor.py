"""monitoring.monitor: what ``monitor`` prints and exits with, and what it refuses before reading
any data or asking GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.monitoring.monitor import Monitored, alert, measure, monitor

MANIFEST = "version: 1\nproject: {name: demo}\npython: {install: pip install .}\nstages:\n  train: {cmd: python t.py}\n"


def test_drift_is_exit_code_one_and_nothing_goes_to_the_step_outputs() -> None:
    assert Monitored(True, "# report\n").exit_code == 1
    assert Monitored(False, stderr=("monitor: no drift; report written to r.md",)).exit_code == 0
    assert Monitored(True).stdout == "" and Monitored(True).outputs == {}


def test_no_monitoring_section_is_one_line(tmp_path: Path) -> None:
    manifest = load_manifest_text(MANIFEST)
    with pytest.raises(UsageError, match=r"^m\.yaml: no monitoring section; add monitoring\.logs"):
        measure(manifest, tmp_path, "m.yaml")
    with pytest.raises(UsageError, match=r"^demo: mlops\.yaml has no monitoring section$"):
        alert(manifest, tmp_path)
    (tmp_path / "mlops.yaml").write_text(MANIFEST)
    with pytest.raises(UsageError, match="has no monitoring section"):
        monitor(str(tmp_path / "mlops.yaml"), alert_from=str(tmp_path))
