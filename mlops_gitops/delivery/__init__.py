"""Delivering a model: promotion PRs, the retrained-model PR, registry tags, recording a run in Git."""
