"""Reading the prepared CSV files, shared by train and evaluate."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(row[c]) for c in FEATURES] for row in rows])
    y = np.array([row[TARGET] for row in rows])
    return x, y
