"""Fit a scaled logistic regression on the training split and save it to models/model.pkl."""

from __future__ import annotations

import pickle
from pathlib import Path

import yaml
from common import load
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    x, y = load("data/prepared/train.csv")
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"])),
    )
    model.fit(x, y)
    Path("models").mkdir(exist_ok=True)
    with Path("models/model.pkl").open("wb") as f:
        pickle.dump(model, f)
    print(f"train: fitted on {len(y)} rows, C={params['C']}")


if __name__ == "__main__":
    main()
