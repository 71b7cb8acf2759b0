"""Deciding what changed and planning the jobs: `mlops-gitops changed` and `plan`."""
