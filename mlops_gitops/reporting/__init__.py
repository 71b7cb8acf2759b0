"""Reporting: the comparison of two revisions behind `mlops-gitops report` and the sticky PR comment."""
