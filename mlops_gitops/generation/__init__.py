"""Generating the files: `mlops-gitops generate [--check]` and the memo that answers an unchanged tree."""
