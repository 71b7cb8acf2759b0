"""delivery.register.register: what ``register`` refuses and prints before any request is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.delivery.register import Registered, register
from mlops_gitops.errors import UsageError

MANIFEST = "version: 1\nproject: {name: demo}\npython: {install: pip install .}\nstages:\n  train: {cmd: python t.py}\n"


def test_a_mode_and_a_manifest_are_needed(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^register: give --version or --stages$"):
        register(None, "HEAD", str(tmp_path / "mlops.yaml"))
    with pytest.raises(UsageError, match=r"no such manifest \(pass --manifest PATH\)"):
        register("version", "HEAD", str(tmp_path / "mlops.yaml"))


def test_without_the_registry_it_says_so_and_does_nothing(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(MANIFEST)
    path = str(tmp_path / "mlops.yaml")
    result = register("stages", "HEAD", path)
    assert result.stdout == f"record.registry is not enabled in {path}: no model registry tags\n"
    assert (result.outputs, result.exit_code) == ({}, 0)


def test_lines_print_one_each() -> None:
    result = Registered(
        ("m: recorded already", "created tag m@v0.0.1: v0.0.1 at commit abc1234"), {"tags": "m@v0.0.1"}
    )
    assert result.stdout == "m: recorded already\ncreated tag m@v0.0.1: v0.0.1 at commit abc1234\n"
