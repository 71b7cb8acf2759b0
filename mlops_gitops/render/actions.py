"""The third-party actions generated workflows use, pinned to full commit SHAs.

A tag can be moved by whoever controls the action's repository; a commit SHA cannot. Each pin keeps
the release it came from so a reader (and Dependabot/Renovate) can tell what it is. Every SHA below
was checked against the action's release tag; bump them together, here only.

This table is the default. Once a workflow is written, Dependabot or Renovate may move a pin in it to
another commit of the same action, and ``generate`` keeps that pin unless the version here is strictly
higher than the one the file's comment names (``render/pins.py``, ``choose``). So raise ``version``
whenever ``sha`` moves: a new SHA under the same version replaces no pin already written (only new
files, and ``generate --force``, get it). Each ``version`` must be a plain version token
(``vX.Y.Z``), or a moved pin of that action is a hand edit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    repo: str
    sha: str
    version: str

    @property
    def ref(self) -> str:
        """``owner/name@sha`` as written after ``uses:``."""
        return f"{self.repo}@{self.sha}"

    @property
    def uses(self) -> str:
        """The full ``uses:`` value with its version comment."""
        return f"{self.ref} # {self.version}"


ACTIONS: dict[str, Action] = {
    "checkout": Action("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "setup_python": Action("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "cache": Action("actions/cache", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    "upload_artifact": Action(
        "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
    ),
    "download_artifact": Action(
        "actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"
    ),
    "aws": Action(
        "aws-actions/configure-aws-credentials", "e3dd6a429d7300a6a4c196c26e071d42e0343502", "v4.0.2"
    ),
    "gcp": Action("google-github-actions/auth", "6fc4af4b145ae7821d527454aa9bd537d1f2dc5f", "v2.1.7"),
    "azure": Action("azure/login", "a65d910e8af852a8061c627c456678983e180302", "v2.2.0"),
}
