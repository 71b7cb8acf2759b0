"""The core of ``monitor``: read the latest window of production logs and the training baseline
(pulling either from the DVC remote when it is tracked but missing), and compare them."""

from __future__ import annotations

from pathlib import Path

from mlops_gitops.data.drift_report import DriftReport
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Manifest


def monitor(manifest: Manifest, base_dir: Path, manifest_path: str) -> DriftReport:
    """Drift of the configured logs window against the baseline; paths are relative to ``base_dir``."""
    from mlops_gitops.adapters.dvc import ensure_present
    from mlops_gitops.data.drift import compare, select_window
    from mlops_gitops.data.read import data_files, read_many

    config = manifest.monitoring
    if config is None:
        raise UsageError(
            f"{manifest_path}: no monitoring section; add monitoring.logs and monitoring.baseline"
        )
    logs_path = ensure_present(base_dir / config.logs, config.logs)
    baseline_path = ensure_present(base_dir / config.baseline, config.baseline)
    logs = read_many(data_files(logs_path, config.format), config.format)
    baseline = read_many(data_files(baseline_path, config.format), config.format)
    if logs.num_rows == 0:
        raise UsageError(f"{config.logs}: the logs hold no rows")
    if baseline.num_rows == 0:
        raise UsageError(f"{config.baseline}: the baseline holds no rows")
    window, window_info = select_window(logs, config)
    if window.num_rows == 0:
        raise UsageError(f"{config.logs}: no rows in the monitoring window")
    findings = compare(baseline, window, config, config.thresholds)
    return DriftReport(manifest.name, window_info, config.baseline, baseline.num_rows, findings)
