"""The manifest: schema, loading with positions, validation, and the typed model."""

from mlops_gitops.manifest.loader import MANIFEST_FILE, load_manifest, load_manifest_text
from mlops_gitops.manifest.model import Cloud, Deploy, Environment, Gate, Manifest, Model, Runner

__all__ = [
    "MANIFEST_FILE",
    "Cloud",
    "Deploy",
    "Environment",
    "Gate",
    "Manifest",
    "Model",
    "Runner",
    "load_manifest",
    "load_manifest_text",
]
