"""A real Prometheus on the loopback interface for tests that query one: Debian's ``prometheus``
package (``.ci/run`` installs it), never a stub of its API.

``serve(series)`` writes the samples as OpenMetrics text, backfills them into a fresh storage
directory with ``promtool tsdb create-blocks-from openmetrics`` (the blocks are in place before the
server starts, so every sample is there at once, with the timestamps the test chose, and nothing
waits for a scrape), starts ``prometheus`` on a free 127.0.0.1 port with a config that scrapes
nothing, waits for ``/-/ready`` and yields a ``PromServer``; the server is stopped on exit. The
``prometheus`` fixture does this once per test module for the series the module lists in
``PROMETHEUS_SERIES`` (``from tests.prometheusserver import prometheus_fixture``).

``bearer_proxy(upstream, token)`` puts an authenticating reverse proxy in front of it (as
kube-rbac-proxy or oauth2-proxy protect a real one): a request without ``Authorization: Bearer
<token>`` gets 401, any other is forwarded and answered by Prometheus itself.

Without the binary the tests fail (not skip) with the command that installs it.
"""

from __future__ import annotations

import contextlib
import http.server
import math
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL = "apt-get install -y --no-install-recommends prometheus"
START_SECONDS = 30.0


@dataclass(frozen=True)
class Series:
    """One series' samples: ``name{labels}`` with ``(unix seconds, value)`` points in time order."""

    name: str
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass
class PromServer:
    url: str  # http://127.0.0.1:PORT
    storage: Path
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)


def binaries() -> tuple[str, str]:
    """``prometheus`` and ``promtool``, or a test failure that says how to install them."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if not all(found):
        pytest.fail(f"prometheus and promtool are not on PATH; install Debian's package: {INSTALL}")
    return found[0] or "", found[1] or ""


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def openmetrics(series: Iterable[Series]) -> str:
    """The OpenMetrics text promtool backfills: one family per metric name (families may not
    interleave), every sample with its timestamp, ``# EOF`` last."""
    by_name: dict[str, list[Series]] = {}
    for s in series:
        by_name.setdefault(s.name, []).append(s)
    lines = []
    for name, group in by_name.items():
        lines.append(f"# TYPE {name} gauge")  # gauge: OpenMetrics counters must end in _total
        for s in group:
            labels = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(s.labels.items()))
            for at, value in s.points:
                lines.append(f"{name}{{{labels}}} {_number(value)} {at:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serve(series: Iterable[Series] = ()) -> Iterator[PromServer]:
    """Prometheus on 127.0.0.1 (only) with ``series`` backfilled; stopped and its storage removed on exit."""
    prometheus, promtool = binaries()
    with tempfile.TemporaryDirectory(prefix="mlops-prometheus-") as tmp:
        root = Path(tmp)
        storage = root / "data"
        storage.mkdir()
        text = openmetrics(series)
        if text != "# EOF\n":
            source = root / "series.om"
            source.write_text(text, encoding="utf-8")
            done = subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(storage)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"promtool backfill failed:\n{done.stdout}\n{done.stderr}"
        config = root / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n", encoding="utf-8")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = root / "prometheus.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    # The backfilled samples are as old as the test says: keep them all.
                    "--storage.tsdb.retention.time=100y",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = PromServer(url, storage, log, process)
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"prometheus did not start:\n{log.read_text(errors='replace')[-3000:]}"
                    )
                time.sleep(0.05)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module", name="prometheus")
def prometheus_fixture(request: pytest.FixtureRequest) -> Iterator[PromServer]:
    """``prometheus``: a real server for the test module, holding the module's ``PROMETHEUS_SERIES``
    (a list of ``Series``). A test module imports ``prometheus_fixture`` (unused to linters) and asks
    for ``prometheus``."""
    with serve(getattr(request.module, "PROMETHEUS_SERIES", ())) as server:
        yield server


# --- an authenticating proxy -----------------------------------------------------------------------


@dataclass
class ProxySeen:
    """What the proxy received: the Authorization headers, to check the token went (and only there)."""

    authorizations: list[str | None] = field(default_factory=list)


@contextlib.contextmanager
def bearer_proxy(upstream: str, token: str) -> Iterator[tuple[str, ProxySeen]]:
    """A reverse proxy on a free loopback port that lets through only ``Bearer <token>``."""
    seen = ProxySeen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            header = self.headers.get("Authorization")
            seen.authorizations.append(header)
            if header != f"Bearer {token}":
                self._send(401, b"Unauthorized\n", "text/plain")
                return
            try:
                with urllib.request.urlopen(upstream + self.path, timeout=30) as response:
                    self._send(response.status, response.read(), response.headers["Content-Type"])
            except urllib.error.HTTPError as exc:
                self._send(exc.code, exc.read(), exc.headers["Content-Type"] or "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the tests' output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers: what a hung server looks like."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
