"""Action pins that Dependabot or Renovate move: which edits are such a move (and so not a hand edit),
which pin a regenerated workflow keeps, and that nothing else of the file on disk reaches rendered text."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.adapters.files import (
    Rendered,
    digest,
    header,
    is_edited,
    keep_pins,
    parse_header,
    plan,
    with_header,
)
from mlops_gitops.adapters.pins import (
    PIN_LINE,
    VERSION,
    Pin,
    agreed,
    choose,
    keep,
    normalize,
    overrides,
    parse,
    version_key,
)
from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.render.actions import ACTIONS
from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of
from tests.render.test_workflows import CLOUDS, full_manifest

CHECKOUT = ACTIONS["checkout"]
NEW_SHA = "08eba0b27e820071cde6df949e0beb9ba4906955"
HEX = "0123456789abcdef"


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    """The bundled example's workflows, as the tool's table renders them."""
    manifest = load_manifest_text((examples_dir() / "iris" / "mlops.example.yaml").read_text())
    return render_workflows(project_of(manifest))


@pytest.fixture(scope="module")
def every_body(bodies: dict[str, str]) -> list[tuple[str, str]]:
    """``(path, body)`` of the example's workflows and of one manifest per cloud: every table action."""
    out = list(bodies.items())
    for provider in CLOUDS:
        out += render_workflows(project_of(full_manifest(provider))).items()
    return out


def bump(text: str, action: str, ref: str) -> str:
    """Dependabot's edit: every `uses: <action>@<sha>[ # version]` line of ``text`` moved to ``ref``."""
    return re.sub(
        rf"(?m)^(\s*uses: {re.escape(action)}@)[0-9a-f]{{40}}(?: # \S+)?$", lambda m: m[1] + ref, text
    )


def test_a_pin_is_exactly_the_line_the_templates_write() -> None:
    sha = CHECKOUT.sha
    good = {
        f"        uses: actions/checkout@{sha} # v4.2.2": Pin("actions/checkout", sha, "v4.2.2"),
        f"      - uses: actions/cache@{sha}": Pin("actions/cache", sha),
        f"  uses: github/codeql-action/init@{sha} # 3.28": Pin("github/codeql-action/init", sha, "3.28"),
        f"  uses: a/b@{sha} # v1.2.3.4\r": Pin("a/b", sha, "v1.2.3.4"),
    }
    bad = [
        "        uses: actions/checkout@v4",
        "        uses: actions/checkout@main",
        "        uses: actions/checkout@11bd719 # v4.2.2",
        f"        uses: actions/checkout@{sha[:39]} # v4.2.2",
        f"        uses: actions/checkout@{sha}0 # v4.2.2",
        f"        uses: actions/checkout@{sha.upper()} # v4.2.2",
        f'        uses: "actions/checkout@{sha}"',
        f"        uses: actions/checkout@{sha} # ${{{{ github.event.pull_request.title }}}}",
        f"        uses: actions/checkout@{sha} # v1.2.3 run: curl evil",
        f"        uses: actions/checkout@{sha} # v1.2.3.4.5",
        f"        uses: actions/checkout@{sha} # v\u0664.2",  # an Arabic-Indic digit
        f"        uses: actions/checkout@{sha} #v4.2.2",
        f"        uses: actions/checkout@{sha} # v4.2.2 ",
        f"        uses: actions/checkout@{sha} # v4.2.2\u2028run: curl evil",
        f"        uses: ./local@{sha}",
        f"        uses: docker://alpine@{sha}",
        f"        uses: actions@{sha}",
        f"        run: uses: actions/checkout@{sha}",
    ]
    assert parse("\n".join(good)) == list(good.values())
    assert parse("\n".join(bad)) == []
    for line in bad:
        assert PIN_LINE.fullmatch(line) is None, line


def test_every_table_action_renders_as_a_pin_with_its_version() -> None:
    for action in ACTIONS.values():
        assert VERSION.fullmatch(action.version), action
        assert parse(f"        uses: {action.uses}") == [Pin(action.repo, action.sha, action.version)]


def test_versions_compare_field_by_field() -> None:
    ordered = ["v1", "v1.0.1", "v1.2", "v1.10", "2.0.0", "v2.0.0.1", "v10"]
    assert sorted(ordered, key=version_key) == ordered
    assert version_key("v4") == version_key("4.0.0.0")
    with pytest.raises(ValueError):
        version_key("v4-beta")


@pytest.mark.parametrize(
    ("table", "disk", "winner"),
    [
        (("a" * 40, "v4.2.2"), ("b" * 40, "v4.3.0"), "disk"),  # Dependabot moved past the table
        (("a" * 40, "v5.0.0"), ("b" * 40, "v4.3.0"), "table"),  # the tool shipped a newer release
        (("a" * 40, "v4.2.2"), ("b" * 40, "v4.2.2"), "disk"),  # a digest-only update
        (("a" * 40, "v4.2.2"), ("b" * 40, None), "disk"),  # cannot compare: keep what is there
        (("a" * 40, None), ("b" * 40, "v1"), "disk"),
        (("a" * 40, "v4.10.0"), ("b" * 40, "v4.9.9"), "table"),  # numbers, not strings
    ],
)
def test_the_table_wins_only_with_a_strictly_higher_version(
    table: tuple[str, str | None], disk: tuple[str, str | None], winner: str
) -> None:
    ours, theirs = Pin("actions/checkout", *table), Pin("actions/checkout", *disk)
    assert choose(ours, theirs) == (ours if winner == "table" else theirs)


def test_a_pin_of_another_action_never_wins() -> None:
    assert (
        choose(Pin("actions/checkout", "a" * 40, "v1"), Pin("evil/checkout", "b" * 40, "v9")).sha == "a" * 40
    )


def test_normalize_hides_a_moved_pin_and_nothing_else(bodies: dict[str, str]) -> None:
    body = bodies[".github/workflows/mlops-pr.yml"]
    same = normalize(body)
    moved = bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0")
    assert moved != body and normalize(moved) == same
    assert normalize(bump(body, "actions/checkout", NEW_SHA)) == same  # comment dropped: still a pin
    first = f"uses: {CHECKOUT.uses}"
    edits = {
        "another action": body.replace(first, f"uses: evil/checkout@{NEW_SHA} # v4.3.0"),
        "a tag": body.replace(first, "uses: actions/checkout@v4"),
        "a branch": body.replace(first, "uses: actions/checkout@main"),
        "a short SHA": body.replace(first, "uses: actions/checkout@08eba0b # v4.3.0"),
        "one occurrence of two": body.replace(first, f"uses: actions/checkout@{NEW_SHA} # v4.3.0", 1),
        "a hostile comment": body.replace(first, f"uses: actions/checkout@{NEW_SHA} # v4.3.0 ${{{{ x }}}}"),
        "a line added": body.replace(
            first, f"uses: actions/checkout@{NEW_SHA} # v4.3.0\n        run: curl evil"
        ),
        "another line": body.replace("persist-credentials: false", "persist-credentials: true", 1),
    }
    for name, edited in edits.items():
        assert edited != body, name
        assert normalize(edited) != same, name


def test_a_header_does_not_cover_pins_and_old_headers_still_validate(bodies: dict[str, str]) -> None:
    body = bodies[".github/workflows/mlops-pr.yml"]
    text = with_header(body)
    moved = bump(text, "actions/checkout", f"{NEW_SHA} # v4.3.0")
    assert not is_edited(moved)
    assert is_edited(bump(text, "actions/checkout", "v4"))
    assert is_edited(moved.replace("timeout-minutes: 30", "timeout-minutes: 5"))
    legacy = header(digest(body)) + body  # written before pins were normalized
    assert not is_edited(legacy)
    assert is_edited(bump(legacy, "actions/checkout", f"{NEW_SHA} # v4.3.0"))  # cannot tell: as before


def test_keep_substitutes_only_a_sha_and_a_version(bodies: dict[str, str]) -> None:
    body = bodies[".github/workflows/mlops-pr.yml"]
    moved = bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0")
    assert keep(body, moved) == moved
    assert overrides(body, moved) == {"actions/checkout": Pin("actions/checkout", NEW_SHA, "v4.3.0")}
    assert keep(body, bump(body, "actions/checkout", f"{NEW_SHA} # v4.1.0")) == body  # the table is newer
    assert keep(body, body) == body
    first = f"uses: {CHECKOUT.uses}"
    hostile = [
        bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0\n        run: curl evil"),
        bump(body, "actions/checkout", f"{NEW_SHA} # ${{{{ github.event.pull_request.title }}}}"),
        bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0 ${{{{ github.event.pull_request.title }}}}"),
        bump(body, "actions/checkout", f"{NEW_SHA.upper()} # v4.3.0"),
        bump(body, "actions/checkout", f"{NEW_SHA[:39]} # v4.3.0"),
        bump(body, "actions/checkout", f"{NEW_SHA}a # v4.3.0"),
        bump(body, "actions/checkout", "v4"),
        body.replace(first, f"uses: evil/checkout@{NEW_SHA} # v9.9.9"),
        body.replace(first, f"uses: actions/checkout@{NEW_SHA} # v9.9.9", 1),  # occurrences disagree
    ]
    allowed = set(body.split("\n"))
    for on_disk in hostile:
        result = keep(body, on_disk)
        assert "curl" not in result and "${{ github.event.pull_request.title }}" not in result
        for line in result.split("\n"):
            if line not in allowed:  # a moved pin: the rendered line's action, a SHA and a version only
                match = PIN_LINE.fullmatch(line)
                assert match is not None and match["action"] == "actions/checkout", line
                assert line.startswith("        uses: actions/checkout@")
    # Only the multi-line one still agrees on a well-formed pin: its SHA and version, nothing more.
    assert keep(body, hostile[0]) == bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0")
    for on_disk in hostile[1:]:
        assert keep(body, on_disk) == body


def test_pins_come_only_from_an_unedited_file_of_ours(tmp_path: Path, bodies: dict[str, str]) -> None:
    rel = ".github/workflows/mlops-pr.yml"
    body = bodies[rel]
    rendered = [Rendered(rel, with_header(body))]
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    moved = bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0")
    cases = {
        "ours, moved": (with_header(body).replace(body, moved), with_header(moved)),
        "ours, moved with a hostile line": (
            with_header(body).replace(body, bump(body, "actions/checkout", f"{NEW_SHA} # v4.3.0\n  run: x")),
            with_header(body),
        ),
        "not ours": (moved, with_header(body)),
        "ours, hand-edited elsewhere": (
            with_header(body).replace(body, moved.replace("timeout-minutes: 30", "timeout-minutes: 5")),
            with_header(body),
        ),
    }
    for name, (on_disk, expected) in cases.items():
        target.write_text(on_disk)
        assert [r.text for r in keep_pins(tmp_path, rendered)] == [expected], name
    assert agreed(moved)["actions/checkout"].sha == NEW_SHA


def test_the_property_below_meets_every_table_action(every_body: list[tuple[str, str]]) -> None:
    found = {action for _, body in every_body for action in agreed(body)}
    assert {a.repo for a in ACTIONS.values()} <= found


versions = st.one_of(
    st.none(),
    st.lists(st.integers(0, 30), min_size=1, max_size=4).flatmap(
        lambda parts: st.sampled_from(["v", ""]).map(lambda v: v + ".".join(map(str, parts)))
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(sorted(ACTIONS)),
    sha=st.text(HEX, min_size=40, max_size=40),
    version=versions,
    mutation=st.sampled_from(["none", "upper", "short", "long"]),
)
def test_any_move_of_a_table_action_is_kept_and_any_malformed_one_is_an_edit(
    every_body: list[tuple[str, str]], key: str, sha: str, version: str | None, mutation: str
) -> None:
    action = ACTIONS[key]
    table = Pin(action.repo, action.sha, action.version)
    moved_pin = Pin(action.repo, sha, version)
    for rel, body in every_body:
        if action.repo not in agreed(body):
            continue
        text = with_header(body)
        bad = {"none": sha, "upper": sha[:-1] + "A", "short": sha[:39], "long": sha + "0"}[mutation]
        on_disk = bump(text, action.repo, f"{bad} # {version}" if version else bad)
        if on_disk == text:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / rel).parent.mkdir(parents=True)
            (root / rel).write_text(on_disk)
            the_plan = plan(root, keep_pins(root, [Rendered(rel, text)]))
        op = the_plan.actions[0].op
        if mutation != "none":
            assert is_edited(on_disk) and op == "conflict"
            continue
        parsed = parse_header(on_disk)
        assert parsed is not None and not is_edited(on_disk)
        if choose(table, moved_pin) == moved_pin:
            assert keep(body, parsed.body) == parsed.body
            assert op == "unchanged"  # generate --check: current; generate: nothing to write
        else:
            assert keep(body, parsed.body) == body
            assert op == "update" and the_plan.actions[0].new == text  # the tool's newer pin, not an edit
