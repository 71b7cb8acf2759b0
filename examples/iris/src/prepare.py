"""Split data/iris.csv into a stratified train and test set."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

import yaml

RAW = Path("data/iris.csv")
OUT = Path("data/prepared")


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
    with RAW.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)

    # Stratify by hand so every class keeps its share in both sets, whatever the seed.
    by_class: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_class[row["species"]].append(row)
    rng = random.Random(params["seed"])
    train, test = [], []
    for species in sorted(by_class):
        members = by_class[species]
        rng.shuffle(members)
        n_test = round(len(members) * params["test_size"])
        test.extend(members[:n_test])
        train.extend(members[n_test:])

    OUT.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.csv", train), ("test.csv", test)):
        with (OUT / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(part)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows")


if __name__ == "__main__":
    main()
