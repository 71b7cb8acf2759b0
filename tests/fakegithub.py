"""A fake GitHub REST API over real HTTP, for tests that drive PyGithub through ``base_url``.

The server is a stdlib ``ThreadingHTTPServer`` bound to ``127.0.0.1`` on a free port. State lives in
memory; responses follow the shapes of GitHub's documented REST responses closely enough for PyGithub
(every ``url`` points back at this server, because PyGithub refuses to follow URLs on another host).

Only the routes the project uses exist; anything else answers 404 like GitHub does. Tests can:

* seed state: ``add_repo``, ``add_file``, ``add_commit_by``, ``add_pull``, ``add_comments``,
  ``add_issue``, ``add_label``;
* inject faults: ``fail("GET", r"/issues/\\d+/comments", count=2, kind="server")`` — the next matching
  requests answer 500, a secondary rate limit (403 + ``Retry-After``), a permission 403 ("Resource not
  accessible by integration") or 401 "Bad credentials";
* assert on traffic: ``requests`` (every request, in order), ``count(method, pattern)``,
  ``dispatches`` (workflow dispatch payloads).

A request whose token is not ``fake.token`` answers 401, as GitHub does.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_LOGIN = "github-actions[bot]"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
NOW = "2026-01-01T00:00:00Z"
DOCS = "https://docs.github.com/rest"

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:0000."
)


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS, **extra}
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int
    kind: str
    permissions: str
    retry_after: int


@dataclass
class Commit:
    sha: str
    tree: str
    parents: list[str]
    message: str
    author: dict[str, str]
    committer: dict[str, str]


@dataclass
class Issue:
    number: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    state_reason: str | None = None
    # pull-request part (None for plain issues)
    head: str | None = None
    base: str | None = None
    head_repo: str | None = None
    draft: bool = False
    merged: bool = False

    @property
    def is_pull(self) -> bool:
        return self.head is not None


@dataclass
class Comment:
    id: int
    issue: int
    body: str
    user: str
    created_at: str = NOW
    updated_at: str = NOW


@dataclass
class Repo:
    full_name: str
    default_branch: str
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> commit sha
    commits: dict[str, Commit] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # tree sha -> {path: blob sha}
    blobs: dict[str, bytes] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # commit sha -> statuses
    tag_objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # annotated tag sha -> object

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]


def _sha(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


class FakeGitHub:
    """The fake server and its state. Use as a context manager, or via the ``fake_github`` fixture."""

    def __init__(self, token: str = "ghs_FAKEtoken0123456789abcdefSECRET", prefix: str = "") -> None:
        self.token = token
        # "/api/v3" serves the API the way GitHub Enterprise Server does; URLs in responses follow.
        self.prefix = prefix.rstrip("/")
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.dispatches: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._ids = itertools.count(1000)
        self._clock = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive like GitHub, and no Nagle delay between the header and body writes
            # (otherwise every request waits ~200 ms for a delayed ACK).
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    # ---------------------------------------------------------------- seeding
    def add_repo(
        self,
        full_name: str = "acme/models",
        default_branch: str = "main",
        files: dict[str, str] | None = None,
    ) -> Repo:
        with self._lock:
            repo = Repo(full_name=full_name, default_branch=default_branch)
            self.repos[full_name] = repo
            tree = self._store_tree(repo, {})
            for path, text in (files or {"README.md": "# models\n"}).items():
                tree = self._store_tree(
                    repo, {**repo.trees[tree], path: self._store_blob(repo, text.encode())}
                )
            sha = self._store_commit(repo, tree, [], "Initial commit", _ident("Alice", "alice@example.com"))
            repo.refs[f"heads/{default_branch}"] = sha
            return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def add_file(
        self,
        repo: str,
        branch: str,
        path: str,
        text: str,
        *,
        author: tuple[str, str] = ("Alice", "alice@example.com"),
        message: str | None = None,
    ) -> str:
        """Commit ``path`` = ``text`` on ``branch`` (created from the default branch if missing)."""
        with self._lock:
            r = self.repos[repo]
            ref = f"heads/{branch}"
            parent = r.refs.get(ref) or r.refs[f"heads/{r.default_branch}"]
            files = dict(r.trees[r.commits[parent].tree])
            files[path] = self._store_blob(r, text.encode())
            tree = self._store_tree(r, files)
            sha = self._store_commit(r, tree, [parent], message or f"Update {path}", _ident(*author))
            r.refs[ref] = sha
            return sha

    def add_commit_by(
        self,
        repo: str,
        branch: str,
        name: str = "Bob Human",
        email: str = "bob@example.com",
        path: str = "NOTES.md",
    ) -> str:
        """Someone other than the bot pushes a commit to ``branch``."""
        return self.add_file(repo, branch, path, f"hand edit by {name}\n", author=(name, email))

    def add_git_commit(
        self,
        repo: str,
        sha: str,
        files: dict[str, bytes],
        message: str = "A commit",
        parents: list[str] | None = None,
    ) -> str:
        """A commit of a real Git repository, under its own SHA, so the API serves what ``git`` pushed
        (its tree, blobs, parents); parents the fake does not know are left out."""
        with self._lock:
            r = self.repos[repo]
            tree = self._store_tree(r, {path: self._store_blob(r, data) for path, data in files.items()})
            known = [p for p in parents or [] if p in r.commits]
            r.commits[sha] = Commit(
                sha,
                tree,
                known,
                message,
                _ident("Alice", "alice@example.com"),
                _ident("Alice", "alice@example.com"),
            )
            return sha

    def changed_files(self, repo: str, sha: str) -> dict[str, bytes]:
        """The files commit ``sha`` adds or changes against its first parent."""
        r = self.repos[repo]
        commit = r.commits[sha]
        before = r.trees[r.commits[commit.parents[0]].tree] if commit.parents else {}
        after = r.trees[commit.tree]
        return {p: r.blobs[b] for p, b in after.items() if before.get(p) != b}

    def file(self, repo: str, branch: str, path: str) -> str | None:
        """Text of ``path`` at the tip of ``branch`` (None when absent)."""
        r = self.repos[repo]
        sha = r.refs.get(f"heads/{branch}")
        if sha is None:
            return None
        blob = r.trees[r.commits[sha].tree].get(path)
        return None if blob is None else r.blobs[blob].decode()

    def head_commit(self, repo: str, branch: str) -> Commit:
        r = self.repos[repo]
        return r.commits[r.refs[f"heads/{branch}"]]

    def add_pull(
        self,
        repo: str,
        head: str,
        base: str | None = None,
        *,
        title: str = "A change",
        body: str | None = "",
        user: str = "alice",
        state: str = "open",
        labels: list[str] | None = None,
        head_repo: str | None = None,
    ) -> int:
        """Open a PR from ``head`` (created with one commit when missing) into ``base``."""
        with self._lock:
            r = self.repos[repo]
            if f"heads/{head}" not in r.refs and head_repo is None:
                self.add_file(repo, head, f"{head}.txt", "change\n")
            number = self._next_number(r)
            r.issues[number] = Issue(
                number=number,
                title=title,
                body=body,
                user=user,
                state=state,
                labels=list(labels or []),
                head=head,
                base=base or r.default_branch,
                head_repo=head_repo,
            )
            for name in labels or []:
                self._ensure_label(r, name)
            return number

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        *,
        user: str = "alice",
        labels: list[str] | None = None,
        state: str = "open",
    ) -> int:
        with self._lock:
            r = self.repos[repo]
            number = self._next_number(r)
            r.issues[number] = Issue(number, title, body, user, state=state, labels=list(labels or []))
            for name in labels or []:
                self._ensure_label(r, name)
            return number

    def add_comments(
        self,
        repo: str,
        number: int,
        n: int,
        body: str | Callable[[int], str] = "comment {i}",
        user: str = "alice",
    ) -> list[int]:
        with self._lock:
            r = self.repos[repo]
            ids = []
            for i in range(n):
                text = body(i) if callable(body) else body.format(i=i)
                ids.append(self._store_comment(r, number, text, user))
            return ids

    def add_tag(
        self,
        repo: str,
        name: str,
        commit: str,
        message: str | None = None,
        *,
        tagger: tuple[str, str] = ("Alice", "alice@example.com"),
        date: str = NOW,
    ) -> str:
        """Tag ``commit`` as ``refs/tags/NAME``: annotated (a tag object) when ``message`` is given,
        else lightweight. Returns what the ref points at."""
        with self._lock:
            r = self.repos[repo]
            sha = commit
            if message is not None:
                sha = self._store_tag(r, name, message, commit, "commit", _ident(*tagger) | {"date": date})
            r.refs[f"tags/{name}"] = sha
            return sha

    def add_label(self, repo: str, name: str) -> None:
        with self._lock:
            self._ensure_label(self.repos[repo], name)

    def comments(self, repo: str, number: int) -> list[Comment]:
        return sorted(
            (c for c in self.repos[repo].comments.values() if c.issue == number), key=lambda c: c.id
        )

    def pulls(self, repo: str, state: str = "all") -> list[Issue]:
        return [i for i in self.repos[repo].issues.values() if i.is_pull and state in ("all", i.state)]

    def issues(self, repo: str, state: str = "all") -> list[Issue]:
        return [i for i in self.repos[repo].issues.values() if not i.is_pull and state in ("all", i.state)]

    # ---------------------------------------------------------------- faults and traffic
    def fail(
        self,
        method: str,
        pattern: str,
        *,
        count: int = 1,
        kind: str = "server",
        permissions: str = "pull_requests=write",
        retry_after: int = 1,
    ) -> None:
        """The next ``count`` requests matching ``method`` and ``pattern`` (re.search on the path) fail.

        kind: ``server`` (500), ``secondary`` (403 secondary rate limit with ``Retry-After``),
        ``permission`` (403 "Resource not accessible by integration" with
        ``X-Accepted-GitHub-Permissions``), ``credentials`` (401 "Bad credentials").
        """
        assert kind in {"server", "secondary", "permission", "credentials"}, kind
        with self._lock:
            self.faults.append(
                Fault(method.upper(), re.compile(pattern), count, kind, permissions, retry_after)
            )

    def count(self, method: str | None = None, pattern: str | None = None) -> int:
        return len(self.matching(method, pattern))

    def matching(self, method: str | None = None, pattern: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (pattern is None or re.search(pattern, r.path))
        ]

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    # ---------------------------------------------------------------- storage helpers
    def _store_blob(self, r: Repo, data: bytes) -> str:
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        r.blobs[sha] = data
        return sha

    def _store_tree(self, r: Repo, files: dict[str, str]) -> str:
        sha = _sha("tree", sorted(files.items()))
        r.trees[sha] = dict(files)
        return sha

    def _store_commit(
        self,
        r: Repo,
        tree: str,
        parents: list[str],
        message: str,
        author: dict[str, str],
        committer: dict[str, str] | None = None,
    ) -> str:
        sha = _sha("commit", tree, parents, message, author, next(self._clock))
        r.commits[sha] = Commit(sha, tree, list(parents), message, author, committer or author)
        return sha

    def _store_comment(self, r: Repo, number: int, body: str, user: str) -> int:
        cid = next(self._ids)
        r.comments[cid] = Comment(cid, number, body, user)
        return cid

    def _next_number(self, r: Repo) -> int:
        return max(r.issues, default=0) + 1

    def _ensure_label(self, r: Repo, name: str) -> dict[str, Any]:
        if name not in r.labels:
            r.labels[name] = {"id": next(self._ids), "name": name, "color": "ededed", "description": None}
        return r.labels[name]

    def _ancestors(self, r: Repo, sha: str) -> set[str]:
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s in seen or s not in r.commits:
                continue
            seen.add(s)
            stack.extend(r.commits[s].parents)
        return seen

    # ---------------------------------------------------------------- JSON shapes
    def _user(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": int(hashlib.md5(login.encode()).hexdigest()[:6], 16),
            "node_id": f"U_{login}",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
            "url": f"{self.url}/users/{urllib.parse.quote(login)}",
            "html_url": f"{self.url}/{urllib.parse.quote(login)}",
        }

    def _repo_json(self, r: Repo) -> dict[str, Any]:
        return {
            "id": int(hashlib.md5(r.full_name.encode()).hexdigest()[:6], 16),
            "node_id": f"R_{r.full_name}",
            "name": r.full_name.split("/", 1)[1],
            "full_name": r.full_name,
            "owner": self._user(r.owner),
            "private": False,
            "fork": False,
            "html_url": f"{self.url}/{r.full_name}",
            "url": f"{self.url}/repos/{r.full_name}",
            "default_branch": r.default_branch,
            "permissions": {"admin": False, "push": True, "pull": True},
        }

    def _label_json(self, r: Repo, name: str) -> dict[str, Any]:
        label = self._ensure_label(r, name)
        return {
            **label,
            "node_id": f"L_{label['id']}",
            "url": f"{self.url}/repos/{r.full_name}/labels/{name}",
            "default": False,
        }

    def _issue_json(self, r: Repo, i: Issue) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        data: dict[str, Any] = {
            "id": i.number * 7919,
            "node_id": f"I_{i.number}",
            "url": f"{base}/issues/{i.number}",
            "repository_url": base,
            "labels_url": f"{base}/issues/{i.number}/labels{{/name}}",
            "comments_url": f"{base}/issues/{i.number}/comments",
            "events_url": f"{base}/issues/{i.number}/events",
            "html_url": f"{self.url}/{r.full_name}/{'pull' if i.is_pull else 'issues'}/{i.number}",
            "number": i.number,
            "state": i.state,
            "state_reason": i.state_reason,
            "title": i.title,
            "body": i.body,
            "user": self._user(i.user),
            "labels": [self._label_json(r, n) for n in i.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": sum(1 for c in r.comments.values() if c.issue == i.number),
            "created_at": NOW,
            "updated_at": NOW,
            "closed_at": NOW if i.state == "closed" else None,
            "author_association": "MEMBER",
        }
        if i.is_pull:
            data["pull_request"] = {
                "url": f"{base}/pulls/{i.number}",
                "html_url": data["html_url"],
                "diff_url": data["html_url"] + ".diff",
                "patch_url": data["html_url"] + ".patch",
                "merged_at": NOW if i.merged else None,
            }
        return data

    def _pull_json(self, r: Repo, i: Issue) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        head_repo = self.repos.get(i.head_repo or r.full_name, r)
        assert i.head is not None and i.base is not None
        head_sha = head_repo.refs.get(f"heads/{i.head}", "0" * 40)
        return {
            "url": f"{base}/pulls/{i.number}",
            "id": i.number * 7919,
            "node_id": f"PR_{i.number}",
            "html_url": f"{self.url}/{r.full_name}/pull/{i.number}",
            "diff_url": f"{self.url}/{r.full_name}/pull/{i.number}.diff",
            "patch_url": f"{self.url}/{r.full_name}/pull/{i.number}.patch",
            "issue_url": f"{base}/issues/{i.number}",
            "commits_url": f"{base}/pulls/{i.number}/commits",
            "review_comments_url": f"{base}/pulls/{i.number}/comments",
            "comments_url": f"{base}/issues/{i.number}/comments",
            "statuses_url": f"{base}/statuses/{head_sha}",
            "number": i.number,
            "state": i.state,
            "locked": False,
            "title": i.title,
            "user": self._user(i.user),
            "body": i.body,
            "labels": [self._label_json(r, n) for n in i.labels],
            "milestone": None,
            "created_at": NOW,
            "updated_at": NOW,
            "closed_at": NOW if i.state == "closed" else None,
            "merged_at": NOW if i.merged else None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "head": {
                "label": f"{head_repo.owner}:{i.head}",
                "ref": i.head,
                "sha": head_sha,
                "user": self._user(head_repo.owner),
                "repo": self._repo_json(head_repo),
            },
            "base": {
                "label": f"{r.owner}:{i.base}",
                "ref": i.base,
                "sha": r.refs.get(f"heads/{i.base}", "0" * 40),
                "user": self._user(r.owner),
                "repo": self._repo_json(r),
            },
            "author_association": "MEMBER",
            "draft": i.draft,
            "merged": i.merged,
            "mergeable": None,
            "comments": sum(1 for c in r.comments.values() if c.issue == i.number),
            "commits": 1,
        }

    def _comment_json(self, r: Repo, c: Comment) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{base}/issues/comments/{c.id}",
            "html_url": f"{self.url}/{r.full_name}/issues/{c.issue}#issuecomment-{c.id}",
            "issue_url": f"{base}/issues/{c.issue}",
            "body": c.body,
            "user": self._user(c.user),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": "MEMBER",
        }

    def _ref_json(self, r: Repo, ref: str) -> dict[str, Any]:
        sha = r.refs[ref]
        return {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{ref}",
            "url": f"{self.url}/repos/{r.full_name}/git/refs/{ref}",
            "object": {
                "type": "tag" if sha in r.tag_objects else "commit",
                "sha": sha,
                "url": f"{self.url}/repos/{r.full_name}/git/{'tags' if sha in r.tag_objects else 'commits'}/{sha}",
            },
        }

    def _git_commit_json(self, r: Repo, c: Commit) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        return {
            "sha": c.sha,
            "node_id": f"C_{c.sha[:8]}",
            "url": f"{base}/git/commits/{c.sha}",
            "html_url": f"{self.url}/{r.full_name}/commit/{c.sha}",
            "author": c.author,
            "committer": c.committer,
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{base}/git/trees/{c.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{base}/git/commits/{p}",
                    "html_url": f"{self.url}/{r.full_name}/commit/{p}",
                }
                for p in c.parents
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def _commit_json(self, r: Repo, c: Commit) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        login = BOT_LOGIN if c.author["email"] == BOT_EMAIL else None
        return {
            "sha": c.sha,
            "node_id": f"C_{c.sha[:8]}",
            "url": f"{base}/commits/{c.sha}",
            "html_url": f"{self.url}/{r.full_name}/commit/{c.sha}",
            "comments_url": f"{base}/commits/{c.sha}/comments",
            "commit": {
                **self._git_commit_json(r, c),
                "url": f"{base}/git/commits/{c.sha}",
                "comment_count": 0,
            },
            "author": self._user(login) if login else None,
            "committer": self._user(login) if login else None,
            "parents": [{"sha": p, "url": f"{base}/commits/{p}"} for p in c.parents],
            "files": [],
        }

    def _content_json(self, r: Repo, path: str, blob: str, ref: str) -> dict[str, Any]:
        base = f"{self.url}/repos/{r.full_name}"
        data = r.blobs[blob]
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": base64.encodebytes(data).decode(),
            "sha": blob,
            "url": f"{base}/contents/{urllib.parse.quote(path)}?ref={urllib.parse.quote(ref)}",
            "git_url": f"{base}/git/blobs/{blob}",
            "html_url": f"{self.url}/{r.full_name}/blob/{ref}/{path}",
            "download_url": f"{self.url}/raw/{r.full_name}/{ref}/{path}",
            "_links": {"self": f"{base}/contents/{path}", "git": f"{base}/git/blobs/{blob}", "html": ""},
        }

    # ---------------------------------------------------------------- HTTP plumbing
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(parsed.path)
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                h.send_error(404)
                return
            path = path[len(self.prefix) :]
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Request(method, path, query, body)
        headers: dict[str, str] = {}
        with self._lock:
            self.requests.append(record)
            try:
                status, payload, headers = self._dispatch(h, method, path, query, body)
            except HttpError as exc:
                status, payload, headers = exc.status, exc.body, exc.headers
            record.status = status
        data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()
        if data:
            h.wfile.write(data)

    def _dispatch(
        self, h: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        auth = h.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token != self.token:
            raise HttpError(401, "Bad credentials")
        for fault in self.faults:
            if fault.remaining > 0 and fault.method == method and fault.pattern.search(path):
                fault.remaining -= 1
                raise self._fault_error(fault)
        for route_method, pattern, handler in self._routes():
            if route_method != method:
                continue
            m = re.fullmatch(pattern, path)
            if m:
                groups = m.groupdict()
                repo = None
                if "repo" in groups:
                    repo = self.repos.get(groups.pop("repo"))
                    if repo is None:
                        raise HttpError(404, "Not Found")
                    groups["r"] = repo
                result = handler(query=query, body=body if body is not None else {}, **groups)
                if isinstance(result, tuple):
                    return result
                return (200, result, {})
        raise HttpError(404, "Not Found")

    def _fault_error(self, fault: Fault) -> HttpError:
        if fault.kind == "server":
            return HttpError(500, "Server Error")
        if fault.kind == "secondary":
            return HttpError(403, SECONDARY_RATE_LIMIT_MESSAGE, {"Retry-After": str(fault.retry_after)})
        if fault.kind == "permission":
            return HttpError(
                403,
                "Resource not accessible by integration",
                {"X-Accepted-GitHub-Permissions": fault.permissions},
            )
        return HttpError(401, "Bad credentials")

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        R = r"/repos/(?P<repo>[^/]+/[^/]+)"
        return [
            ("GET", r"/user", self._get_user),
            ("GET", R, self._get_repo),
            ("GET", R + r"/pulls", self._list_pulls),
            ("POST", R + r"/pulls", self._create_pull),
            ("GET", R + r"/pulls/(?P<n>\d+)", self._get_pull),
            ("PATCH", R + r"/pulls/(?P<n>\d+)", self._edit_pull),
            ("GET", R + r"/commits/(?P<sha>[^/]+)/pulls", self._commit_pulls),
            ("GET", R + r"/commits/(?P<sha>[^/]+)", self._get_commit),
            ("GET", R + r"/issues", self._list_issues),
            ("POST", R + r"/issues", self._create_issue),
            ("GET", R + r"/issues/comments/(?P<cid>\d+)", self._get_comment),
            ("PATCH", R + r"/issues/comments/(?P<cid>\d+)", self._edit_comment),
            ("GET", R + r"/issues/(?P<n>\d+)", self._get_issue),
            ("PATCH", R + r"/issues/(?P<n>\d+)", self._edit_issue),
            ("GET", R + r"/issues/(?P<n>\d+)/comments", self._list_comments),
            ("POST", R + r"/issues/(?P<n>\d+)/comments", self._create_comment),
            ("POST", R + r"/issues/(?P<n>\d+)/labels", self._add_labels),
            ("GET", R + r"/labels", self._list_labels),
            ("POST", R + r"/labels", self._create_label),
            ("GET", R + r"/labels/(?P<name>[^/]+)", self._get_label),
            ("GET", R + r"/git/ref/(?P<ref>.+)", self._get_ref),
            ("GET", R + r"/git/refs/(?P<ref>.+)", self._get_ref),
            ("POST", R + r"/git/refs", self._create_ref),
            ("GET", R + r"/git/matching-refs/(?P<ref>.+)", self._matching_refs),
            ("POST", R + r"/git/tags", self._create_tag),
            ("GET", R + r"/git/tags/(?P<sha>[0-9a-f]+)", self._get_tag),
            ("PATCH", R + r"/git/refs/(?P<ref>.+)", self._update_ref),
            ("DELETE", R + r"/git/refs/(?P<ref>.+)", self._delete_ref),
            ("GET", R + r"/git/commits/(?P<sha>[0-9a-f]+)", self._get_git_commit),
            ("POST", R + r"/git/commits", self._create_git_commit),
            ("GET", R + r"/git/trees/(?P<sha>[0-9a-f]+)", self._get_tree),
            ("POST", R + r"/git/trees", self._create_tree),
            ("GET", R + r"/git/blobs/(?P<sha>[0-9a-f]+)", self._get_blob),
            ("POST", R + r"/git/blobs", self._create_blob),
            ("GET", R + r"/contents/(?P<path>.+)", self._get_contents),
            ("PUT", R + r"/contents/(?P<path>.+)", self._put_contents),
            ("POST", R + r"/statuses/(?P<sha>[0-9a-f]{40})", self._create_status),
            ("GET", R + r"/actions/workflows/(?P<wf>[^/]+)", self._get_workflow),
            ("POST", R + r"/actions/workflows/(?P<wf>[^/]+)/dispatches", self._dispatch_workflow),
            # retrain-pr: whether the trained commit is on the default branch
            ("GET", R + r"/compare/(?P<basehead>[^/]+\.\.\.[^/]+)", self._compare),
        ]

    def _paginate(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(max(int(query.get("per_page", 30)), 1), 100)
        page = max(int(query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(p: int, rel: str) -> str:
            q = urllib.parse.urlencode({**query, "per_page": per_page, "page": p})
            return f'<{self.url}{path}?{q}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    # ---------------------------------------------------------------- handlers
    def _get_user(self, **_: Any) -> Any:
        raise HttpError(403, "Resource not accessible by integration")

    def _get_repo(self, r: Repo, **_: Any) -> Any:
        return self._repo_json(r)

    def _issue(self, r: Repo, n: str, pull: bool | None = None) -> Issue:
        issue = r.issues.get(int(n))
        if issue is None or (pull is True and not issue.is_pull):
            raise HttpError(404, "Not Found")
        return issue

    def _list_pulls(self, r: Repo, query: dict[str, str], **_: Any) -> Any:
        state = query.get("state", "open")
        pulls = sorted(self.pulls(r.full_name), key=lambda i: -i.number)
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if "head" in query:
            owner, _, branch = query["head"].rpartition(":")
            pulls = [
                p
                for p in pulls
                if p.head == branch and (p.head_repo or r.full_name).split("/")[0] == (owner or r.owner)
            ]
        if "base" in query:
            pulls = [p for p in pulls if p.base == query["base"]]
        return self._paginate(f"/repos/{r.full_name}/pulls", query, [self._pull_json(r, p) for p in pulls])

    def _create_pull(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        head = str(body.get("head", ""))
        owner, _, branch = head.rpartition(":")
        base = body.get("base")
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": missing[0], "code": "missing_field"}],
            )
        if f"heads/{branch}" not in r.refs or f"heads/{base}" not in r.refs:
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        for p in self.pulls(r.full_name, "open"):
            if p.head == branch and p.base == base:
                raise HttpError(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {owner or r.owner}:{branch}.",
                        }
                    ],
                )
        if r.refs[f"heads/{branch}"] in self._ancestors(r, r.refs[f"heads/{base}"]):
            raise HttpError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {branch}",
                    }
                ],
            )
        number = self._next_number(r)
        r.issues[number] = Issue(
            number,
            body["title"],
            body.get("body"),
            BOT_LOGIN,
            head=branch,
            base=base,
            draft=bool(body.get("draft")),
        )
        return 201, self._pull_json(r, r.issues[number]), {}

    def _get_pull(self, r: Repo, n: str, **_: Any) -> Any:
        return self._pull_json(r, self._issue(r, n, pull=True))

    def _edit_pull(self, r: Repo, n: str, body: dict[str, Any], **_: Any) -> Any:
        i = self._issue(r, n, pull=True)
        for key in ("title", "body", "state", "base"):
            if key in body:
                setattr(i, key, body[key])
        return self._pull_json(r, i)

    def _commit_pulls(self, r: Repo, sha: str, query: dict[str, str], **_: Any) -> Any:
        found = []
        for p in sorted(self.pulls(r.full_name), key=lambda i: -i.number):
            head_repo = self.repos.get(p.head_repo or r.full_name, r)
            tip = head_repo.refs.get(f"heads/{p.head}")
            base_tip = r.refs.get(f"heads/{p.base}")
            if tip is None:
                continue
            mine = self._ancestors(head_repo, tip) - (self._ancestors(r, base_tip) if base_tip else set())
            if sha in mine:
                found.append(self._pull_json(r, p))
        return self._paginate(f"/repos/{r.full_name}/commits/{sha}/pulls", query, found)

    def _resolve(self, r: Repo, rev: str) -> str:
        if rev in r.commits:
            return rev
        for ref in (f"heads/{rev}", rev.removeprefix("refs/")):
            if ref in r.refs:
                return r.refs[ref]
        raise HttpError(422, f"No commit found for SHA: {rev}")

    def _create_status(self, r: Repo, sha: str, body: dict[str, Any], **_: Any) -> Any:
        if sha not in r.commits:
            raise HttpError(422, "No commit found for SHA: " + sha)
        if body.get("state") not in ("error", "failure", "pending", "success"):
            raise HttpError(422, "Validation Failed")
        n = sum(len(v) for v in r.statuses.values()) + 1
        status = {
            "url": f"{self.url}/repos/{r.full_name}/statuses/{sha}",
            "id": n,
            "node_id": f"SC_{n}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": NOW,
            "updated_at": NOW,
            "creator": self._user(BOT_LOGIN),
        }
        r.statuses.setdefault(sha, []).append(status)
        return 201, status, {}

    def _get_commit(self, r: Repo, sha: str, **_: Any) -> Any:
        return self._commit_json(r, r.commits[self._resolve(r, sha)])

    def _list_issues(self, r: Repo, query: dict[str, str], **_: Any) -> Any:
        state = query.get("state", "open")
        items = sorted(r.issues.values(), key=lambda i: -i.number)
        if state != "all":
            items = [i for i in items if i.state == state]
        if query.get("labels"):
            wanted = {x.strip() for x in query["labels"].split(",") if x.strip()}
            items = [i for i in items if wanted <= set(i.labels)]
        if query.get("creator"):
            items = [i for i in items if i.user == query["creator"]]
        return self._paginate(f"/repos/{r.full_name}/issues", query, [self._issue_json(r, i) for i in items])

    def _create_issue(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        if not body.get("title"):
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": "title", "code": "missing_field"}],
            )
        self._check_body(body.get("body"))
        number = self._next_number(r)
        labels = [str(x) for x in body.get("labels") or []]
        for name in labels:
            self._ensure_label(r, name)
        r.issues[number] = Issue(number, body["title"], body.get("body"), BOT_LOGIN, labels=labels)
        return 201, self._issue_json(r, r.issues[number]), {}

    def _get_issue(self, r: Repo, n: str, **_: Any) -> Any:
        return self._issue_json(r, self._issue(r, n))

    def _edit_issue(self, r: Repo, n: str, body: dict[str, Any], **_: Any) -> Any:
        i = self._issue(r, n)
        self._check_body(body.get("body"))
        for key in ("title", "body", "state", "state_reason"):
            if key in body:
                setattr(i, key, body[key])
        if "labels" in body:
            i.labels = [str(x if isinstance(x, str) else x["name"]) for x in body["labels"]]
            for name in i.labels:
                self._ensure_label(r, name)
        if body.get("state") == "closed" and "state_reason" not in body:
            i.state_reason = "completed"
        if body.get("state") == "open":
            i.state_reason = "reopened"
        return self._issue_json(r, i)

    def _check_body(self, text: Any) -> None:
        if isinstance(text, str) and len(text) > 65536:
            raise HttpError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "Body is too long (maximum is 65536 characters)",
                    }
                ],
            )

    def _list_comments(self, r: Repo, n: str, query: dict[str, str], **_: Any) -> Any:
        self._issue(r, n)
        items = [self._comment_json(r, c) for c in self.comments(r.full_name, int(n))]
        return self._paginate(f"/repos/{r.full_name}/issues/{n}/comments", query, items)

    def _create_comment(self, r: Repo, n: str, body: dict[str, Any], **_: Any) -> Any:
        self._issue(r, n)
        if not body.get("body"):
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
            )
        self._check_body(body["body"])
        cid = self._store_comment(r, int(n), body["body"], BOT_LOGIN)
        return 201, self._comment_json(r, r.comments[cid]), {}

    def _comment(self, r: Repo, cid: str) -> Comment:
        c = r.comments.get(int(cid))
        if c is None:
            raise HttpError(404, "Not Found")
        return c

    def _get_comment(self, r: Repo, cid: str, **_: Any) -> Any:
        return self._comment_json(r, self._comment(r, cid))

    def _edit_comment(self, r: Repo, cid: str, body: dict[str, Any], **_: Any) -> Any:
        c = self._comment(r, cid)
        self._check_body(body.get("body"))
        c.body = body["body"]
        c.updated_at = f"2026-01-01T00:00:{next(self._clock) % 60:02d}Z"
        return self._comment_json(r, c)

    def _add_labels(self, r: Repo, n: str, body: Any, **_: Any) -> Any:
        i = self._issue(r, n)
        names = body.get("labels", []) if isinstance(body, dict) else body
        for name in names:
            name = name if isinstance(name, str) else name["name"]
            self._ensure_label(r, name)
            if name not in i.labels:
                i.labels.append(name)
        return [self._label_json(r, x) for x in i.labels]

    def _list_labels(self, r: Repo, query: dict[str, str], **_: Any) -> Any:
        return self._paginate(
            f"/repos/{r.full_name}/labels", query, [self._label_json(r, x) for x in r.labels]
        )

    def _create_label(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        name = body.get("name")
        if not name:
            raise HttpError(422, "Validation Failed")
        if name in r.labels:
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "Label", "code": "already_exists", "field": "name"}],
            )
        self._ensure_label(r, name)
        r.labels[name].update(color=body.get("color", "ededed"), description=body.get("description"))
        return 201, self._label_json(r, name), {}

    def _get_label(self, r: Repo, name: str, **_: Any) -> Any:
        if name not in r.labels:
            raise HttpError(404, "Not Found")
        return self._label_json(r, name)

    def _get_ref(self, r: Repo, ref: str, **_: Any) -> Any:
        if ref not in r.refs:
            raise HttpError(404, "Not Found")
        return self._ref_json(r, ref)

    def _create_ref(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        full = str(body.get("ref", ""))
        if not full.startswith("refs/") or full.count("/") < 2:
            raise HttpError(422, "Reference name must start with 'refs/' and have at least two slashes.")
        ref = full[len("refs/") :]
        if ref in r.refs:
            raise HttpError(422, "Reference already exists")
        if body.get("sha") not in r.commits and body.get("sha") not in r.tag_objects:
            raise HttpError(422, "Object does not exist")
        r.refs[ref] = body["sha"]
        return 201, self._ref_json(r, ref), {}

    def _update_ref(self, r: Repo, ref: str, body: dict[str, Any], **_: Any) -> Any:
        if ref not in r.refs:
            raise HttpError(422, "Reference does not exist")
        sha = body.get("sha")
        if sha not in r.commits:
            raise HttpError(422, "Object does not exist")
        if not body.get("force") and r.refs[ref] not in self._ancestors(r, sha):
            raise HttpError(422, "Update is not a fast forward")
        r.refs[ref] = sha
        return self._ref_json(r, ref)

    def _delete_ref(self, r: Repo, ref: str, **_: Any) -> Any:
        if r.refs.pop(ref, None) is None:
            raise HttpError(422, "Reference does not exist")
        return 204, None, {}

    # Annotated tags: a tag object (POST git/tags) and its ref (POST git/refs, refs/tags/NAME).
    def _store_tag(
        self, r: Repo, name: str, message: str, obj: str, kind: str, tagger: dict[str, str]
    ) -> str:
        sha = _sha("tag", name, message, obj, kind, tagger, next(self._clock))
        r.tag_objects[sha] = {"tag": name, "message": message, "object": obj, "type": kind, "tagger": tagger}
        return sha

    def _tag_json(self, r: Repo, sha: str) -> dict[str, Any]:
        t = r.tag_objects[sha]
        base = f"{self.url}/repos/{r.full_name}/git"
        return {
            "node_id": f"TAG_{sha[:8]}",
            "tag": t["tag"],
            "sha": sha,
            "url": f"{base}/tags/{sha}",
            "message": t["message"],
            "tagger": t["tagger"],
            "object": {
                "type": t["type"],
                "sha": t["object"],
                "url": f"{base}/{'tags' if t['type'] == 'tag' else 'commits'}/{t['object']}",
            },
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def _create_tag(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        missing = [k for k in ("tag", "message", "object", "type") if not isinstance(body.get(k), str)]
        if missing:
            raise HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "Tag", "field": missing[0], "code": "missing_field"}],
            )
        kind, obj = body["type"], body["object"]
        if (kind == "commit" and obj not in r.commits) or (kind == "tag" and obj not in r.tag_objects):
            raise HttpError(422, "Object does not exist")
        if kind not in ("commit", "tag"):
            raise HttpError(422, "only commit and tag objects are supported by the fake")
        tagger = {**_ident(BOT_NAME, BOT_EMAIL), **(body.get("tagger") or {})}
        sha = self._store_tag(r, body["tag"], body["message"], obj, kind, tagger)
        return 201, self._tag_json(r, sha), {}

    def _get_tag(self, r: Repo, sha: str, **_: Any) -> Any:
        if sha not in r.tag_objects:
            raise HttpError(404, "Not Found")
        return self._tag_json(r, sha)

    def _matching_refs(self, r: Repo, ref: str, query: dict[str, str], **_: Any) -> Any:
        items = [self._ref_json(r, name) for name in sorted(r.refs) if name.startswith(ref)]
        return self._paginate(f"/repos/{r.full_name}/git/matching-refs/{ref}", query, items)

    def _get_git_commit(self, r: Repo, sha: str, **_: Any) -> Any:
        if sha not in r.commits:
            raise HttpError(404, "Not Found")
        return self._git_commit_json(r, r.commits[sha])

    def _create_git_commit(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        if body.get("tree") not in r.trees or any(p not in r.commits for p in body.get("parents", [])):
            raise HttpError(422, "Tree SHA does not exist")
        author = {**_ident(BOT_NAME, BOT_EMAIL), **(body.get("author") or {})}
        committer = {**author, **(body.get("committer") or {})}
        sha = self._store_commit(
            r, body["tree"], list(body.get("parents", [])), body.get("message", ""), author, committer
        )
        return 201, self._git_commit_json(r, r.commits[sha]), {}

    def _get_tree(self, r: Repo, sha: str, query: dict[str, str], **_: Any) -> Any:
        if sha not in r.trees:
            raise HttpError(404, "Not Found")
        base = f"{self.url}/repos/{r.full_name}"
        entries = [
            {
                "path": p,
                "mode": "100644",
                "type": "blob",
                "sha": b,
                "size": len(r.blobs[b]),
                "url": f"{base}/git/blobs/{b}",
            }
            for p, b in sorted(r.trees[sha].items())
            if query.get("recursive") or "/" not in p
        ]
        return {"sha": sha, "url": f"{base}/git/trees/{sha}", "tree": entries, "truncated": False}

    def _create_tree(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        files = dict(r.trees[body["base_tree"]]) if body.get("base_tree") else {}
        if body.get("base_tree") and body["base_tree"] not in r.trees:
            raise HttpError(422, "Invalid tree info")
        for entry in body.get("tree", []):
            if entry.get("type", "blob") != "blob":
                raise HttpError(422, "only blob entries are supported by the fake")
            if "content" in entry:
                files[entry["path"]] = self._store_blob(r, entry["content"].encode())
            elif entry.get("sha") is None:
                files.pop(entry["path"], None)
            elif entry["sha"] in r.blobs:
                files[entry["path"]] = entry["sha"]
            else:
                raise HttpError(422, "Invalid tree info")
        sha = self._store_tree(r, files)
        return 201, self._get_tree(r, sha, {"recursive": "1"}), {}

    def _get_blob(self, r: Repo, sha: str, **_: Any) -> Any:
        if sha not in r.blobs:
            raise HttpError(404, "Not Found")
        data = r.blobs[sha]
        return {
            "sha": sha,
            "node_id": f"B_{sha[:8]}",
            "size": len(data),
            "url": f"{self.url}/repos/{r.full_name}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        }

    def _create_blob(self, r: Repo, body: dict[str, Any], **_: Any) -> Any:
        content = body.get("content", "")
        data = base64.b64decode(content) if body.get("encoding") == "base64" else content.encode()
        sha = self._store_blob(r, data)
        return 201, {"sha": sha, "url": f"{self.url}/repos/{r.full_name}/git/blobs/{sha}"}, {}

    def _get_contents(self, r: Repo, path: str, query: dict[str, str], **_: Any) -> Any:
        ref = query.get("ref") or r.default_branch
        try:
            commit = r.commits[self._resolve(r, ref)]
        except HttpError as exc:
            raise HttpError(404, f"No commit found for the ref {ref}") from exc
        blob = r.trees[commit.tree].get(path.strip("/"))
        if blob is None:
            raise HttpError(404, "Not Found")
        return self._content_json(r, path.strip("/"), blob, ref)

    def _put_contents(self, r: Repo, path: str, body: dict[str, Any], **_: Any) -> Any:
        branch = body.get("branch") or r.default_branch
        if f"heads/{branch}" not in r.refs:
            raise HttpError(404, f"Branch {branch} not found")
        parent = r.refs[f"heads/{branch}"]
        files = dict(r.trees[r.commits[parent].tree])
        current = files.get(path)
        if current is not None and body.get("sha") != current:
            if body.get("sha") is None:
                raise HttpError(422, '"sha" wasn\'t supplied.')
            raise HttpError(409, f"{path} does not match {body.get('sha')}")
        files[path] = self._store_blob(r, base64.b64decode(body.get("content", "")))
        tree = self._store_tree(r, files)
        author = {**_ident(BOT_NAME, BOT_EMAIL), **(body.get("author") or {})}
        committer = {**author, **(body.get("committer") or {})}
        sha = self._store_commit(r, tree, [parent], body.get("message", ""), author, committer)
        r.refs[f"heads/{branch}"] = sha
        return (
            201 if current is None else 200,
            {
                "content": self._content_json(r, path, files[path], branch),
                "commit": self._git_commit_json(r, r.commits[sha]),
            },
            {},
        )

    def _get_workflow(self, r: Repo, wf: str, **_: Any) -> Any:
        base = f"{self.url}/repos/{r.full_name}/actions/workflows/{wf}"
        return {
            "id": int(hashlib.md5(wf.encode()).hexdigest()[:6], 16),
            "node_id": f"W_{wf}",
            "name": wf,
            "path": f".github/workflows/{wf}",
            "state": "active",
            "created_at": NOW,
            "updated_at": NOW,
            "url": base,
            "html_url": f"{self.url}/{r.full_name}/actions/workflows/{wf}",
            "badge_url": f"{self.url}/{r.full_name}/workflows/{wf}/badge.svg",
        }

    def _dispatch_workflow(self, r: Repo, wf: str, body: dict[str, Any], **_: Any) -> Any:
        ref = str(body.get("ref", ""))
        if not ref or f"heads/{ref.removeprefix('refs/heads/')}" not in r.refs:
            raise HttpError(422, f"No ref found for: {ref}")
        self.dispatches.append(
            {"repo": r.full_name, "workflow": wf, "ref": ref, "inputs": body.get("inputs") or {}}
        )
        return 204, None, {}

    # ---------------------------------------------------------------- compare (retrain-pr)
    def _compare(self, r: Repo, basehead: str, **_: Any) -> Any:
        """``GET compare/BASE...HEAD``: ``status`` (ahead, behind, identical, diverged) and the counts;
        no commits or files (the fields PyGithub reads are there, empty)."""
        base_rev, _sep, head_rev = basehead.partition("...")
        try:
            base, head = self._resolve(r, base_rev), self._resolve(r, head_rev)
        except HttpError:
            raise HttpError(404, "Not Found") from None
        below_head, below_base = self._ancestors(r, head), self._ancestors(r, base)
        ahead_by, behind_by = len(below_head - below_base), len(below_base - below_head)
        if base == head:
            status = "identical"
        elif base in below_head:
            status = "ahead"
        elif head in below_base:
            status = "behind"
        else:
            status = "diverged"
        url = f"{self.url}/repos/{r.full_name}/compare/{base_rev}...{head_rev}"
        return {
            "url": url,
            "html_url": f"{self.url}/{r.full_name}/compare/{base_rev}...{head_rev}",
            "permalink_url": url,
            "diff_url": url + ".diff",
            "patch_url": url + ".patch",
            "status": status,
            "ahead_by": ahead_by,
            "behind_by": behind_by,
            "total_commits": ahead_by,
            "commits": [],
            "files": [],
        }


def _ident(name: str, email: str) -> dict[str, str]:
    return {"name": name, "email": email, "date": NOW}


def serve(token: str | None = None) -> Iterator[FakeGitHub]:
    """Generator for a pytest fixture: a started fake, stopped afterwards."""
    fake = FakeGitHub(token) if token else FakeGitHub()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def env_for(fake: FakeGitHub, repo: str = "acme/models") -> dict[str, str]:
    """Environment variables that point the project's GitHub client at ``fake``."""
    return {
        "GITHUB_API_URL": fake.url,
        "GITHUB_REPOSITORY": repo,
        "GITHUB_TOKEN": fake.token,
        "MLOPS_GITOPS_RETRY_BACKOFF": "0",
    }
