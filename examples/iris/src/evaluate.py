"""Score the model on the test split: overall and per-class metrics, plus plot data."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

from common import load
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_recall_fscore_support


def main() -> None:
    with Path("models/model.pkl").open("rb") as f:
        model = pickle.load(f)
    x, y = load("data/prepared/test.csv")
    predicted = model.predict(x)
    classes = list(model.classes_)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=classes, zero_division=0
    )
    metrics = {
        "accuracy": round(float(accuracy_score(y, predicted)), 6),
        "f1_macro": round(float(f1_score(y, predicted, average="macro")), 6),
        "log_loss": round(float(log_loss(y, model.predict_proba(x), labels=classes)), 6),
        "n_test": len(y),
        # One segment per class, so a regression on a single class shows even when the average holds.
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 6),
                "recall": round(float(recall[i]), 6),
                "f1": round(float(f1[i]), 6),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
    }
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    plots = Path("plots")
    plots.mkdir(exist_ok=True)
    with (plots / "confusion.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(y, predicted, strict=True))
    with (plots / "per_class.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "precision", "recall", "f1"])
        for name, seg in metrics["per_class"].items():
            writer.writerow([name, seg["precision"], seg["recall"], seg["f1"]])
    print(f"evaluate: accuracy={metrics['accuracy']} f1_macro={metrics['f1_macro']}")


if __name__ == "__main__":
    main()
