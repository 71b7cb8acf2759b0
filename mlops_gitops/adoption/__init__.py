"""Adopting a repository: `mlops-gitops init` (what is found, the manifest written from it, the example
scaffold, the CODEOWNERS advice)."""
