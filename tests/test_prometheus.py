"""The Prometheus adapter against a real Prometheus (tests/prometheusserver.py): one instant query,
one number, and every way that fails as one line naming the server and the query."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import math
import threading
from pathlib import Path

import pytest

from mlops_gitops import errors
from mlops_gitops.adapters.prometheus import Prometheus, shown_url
from mlops_gitops.errors import PrometheusError, PromQLError, UsageError
from tests.prometheusserver import (  # noqa: F401 (the fixture)
    PromServer,
    Series,
    bearer_proxy,
    free_port,
    prometheus_fixture,
    silent_server,
)

T0 = 1_780_000_000.0
PROMETHEUS_SERIES = [
    Series("requests_total", {"version": "v1", "code": "200"}, ((T0, 10.0), (T0 + 60, 25.0))),
    Series("requests_total", {"version": "v1", "code": "500"}, ((T0, 1.0), (T0 + 60, 2.0))),
    Series("requests_total", {"version": "v2", "code": "200"}, ((T0, 4.0), (T0 + 60, 7.5))),
]
AT = T0 + 60
TOKEN_ENV = "MLOPS_TEST_PROMETHEUS_TOKEN"


def refused(call: object, kind: type[errors.MlopsError] = PromQLError) -> str:
    with pytest.raises(kind) as info:
        call()  # type: ignore[operator]
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_one_number_at_the_time_asked(prometheus: PromServer) -> None:
    server = Prometheus(prometheus.url)
    assert server.number('sum(requests_total{version="v1"})', AT) == 27.0
    assert server.number('sum(requests_total{version="v1"})', T0) == 11.0
    at = dt.datetime.fromtimestamp(AT, dt.timezone.utc)
    assert server.number('requests_total{version="v2"}', at) == 7.5  # a single series
    assert server.number("scalar(sum(requests_total))", at) == 34.5  # a scalar answer
    assert server.number("1 + 1") == 2.0  # no time: now
    assert math.isnan(server.number("0 / 0") or 0.0)  # the value as Prometheus writes it


def test_no_series_is_none_not_an_error(prometheus: PromServer) -> None:
    """What a counter nobody has incremented yet answers: the caller decides it means no traffic."""
    assert Prometheus(prometheus.url).number('sum(requests_total{version="v3"})', AT) is None


def test_answers_that_are_not_one_number_name_the_server_and_the_query(prometheus: PromServer) -> None:
    server = Prometheus(prometheus.url)
    where = f"prometheus {prometheus.url}: query "
    message = refused(lambda: server.number('requests_total{version="v1"}', AT))
    assert message == (
        f"{where}'requests_total{{version=\"v1\"}}': gives 2 series "
        '({code="200",version="v1"}, {code="500",version="v1"}), not one number; aggregate them, e.g. sum(...)'
    )
    message = refused(lambda: server.number("requests_total[5m]", AT))
    assert message.startswith(
        f"{where}'requests_total[5m]': gives a range vector; an instant query needs one number"
    )
    assert refused(lambda: server.number('"text"', AT)) == f"{where}'\"text\"': gives a string, not a number"


def test_a_query_prometheus_rejects_is_bad_input(prometheus: PromServer) -> None:
    server = Prometheus(prometheus.url)
    message = refused(lambda: server.number("sum(requests_total", AT))
    assert message.startswith(
        f"prometheus {prometheus.url}: query 'sum(requests_total': refused (400): bad_data: "
    )
    assert "parse error" in message
    assert PromQLError.exit_code == errors.EXIT_BAD_INPUT == 2
    # A hostile query is quoted on one line, and cut.
    message = refused(lambda: server.number("sum(\n@team closes #1" + "x" * 500, AT))
    assert "'sum(\\n@team closes #1xxx" in message and "...'" in message and len(message) < 900


def test_a_server_that_is_down_or_silent_is_a_service_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    message = refused(lambda: Prometheus(url).number("up", AT), PrometheusError)
    assert message == f"prometheus {url}: query 'up': cannot connect: Connection refused"
    assert PrometheusError.exit_code == errors.EXIT_CHECK_FAILED == 1
    with silent_server() as silent:
        message = refused(lambda: Prometheus(silent, timeout=0.5).number("up", AT), PrometheusError)
    assert message == f"prometheus {silent}: query 'up': no answer within 0.5 s"


def test_a_wrong_base_url_says_what_to_fix(prometheus: PromServer) -> None:
    message = refused(lambda: Prometheus(prometheus.url + "/api/v1").number("up", AT), PrometheusError)
    assert message == (
        f"prometheus {prometheus.url}/api/v1: query 'up': HTTP 404 Not Found; "
        "is the URL the server's base (without /api/v1)?"
    )
    for url in ("file:///etc/passwd", "ftp://host/x", "prometheus:9090", "http://"):
        assert refused(lambda u=url: Prometheus(u), UsageError).endswith("is not an http(s) URL")


def test_a_password_in_the_url_is_refused_and_never_printed(prometheus: PromServer) -> None:
    url = prometheus.url.replace("http://", "http://robot:s3cr3t@")
    message = refused(lambda: Prometheus(url), UsageError)
    assert message == (
        f"prometheus: {prometheus.url}: the URL holds a user or password; "
        "name an environment variable holding a bearer token instead"
    )
    assert shown_url("https://u:p@[::1]:9090/prom") == "https://[::1]:9090/prom"


def test_the_bearer_token_comes_from_the_environment_and_is_never_printed(
    prometheus: PromServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + "7" * 32
    with bearer_proxy(prometheus.url, token) as (proxy, seen):
        server = Prometheus(proxy, token_env=TOKEN_ENV)
        assert token not in repr(server)
        monkeypatch.delenv(TOKEN_ENV, raising=False)
        message = refused(lambda: server.number("up", AT), UsageError)
        assert (
            message == f"prometheus {proxy}: the bearer token's environment variable {TOKEN_ENV} is not set"
        )
        monkeypatch.setenv(TOKEN_ENV, token)
        # Through the proxy, the answer is the real Prometheus's.
        assert server.number('sum(requests_total{version="v1"})', AT) == 27.0
        assert seen.authorizations[-1] == f"Bearer {token}"
        monkeypatch.setenv(TOKEN_ENV, "wrong-" + token)
        message = refused(lambda: server.number("up", AT), PrometheusError)
        assert message == f"prometheus {proxy}: query 'up': HTTP 401 Unauthorized; is the bearer token right?"
        assert token not in message
        # Without token_env nothing is sent, even with the variable set.
        refused(lambda: Prometheus(proxy).number("up", AT), PrometheusError)
        assert seen.authorizations[-1] is None


def test_a_web_page_instead_of_the_api_is_named_as_such(tmp_path: Path) -> None:
    """The URL of a dashboard or a login page answers 200 with HTML: not a Prometheus answer."""
    page = tmp_path / "api" / "v1" / "query"
    page.parent.mkdir(parents=True)
    page.write_text("<html><body>Grafana login</body></html>\n", encoding="utf-8")
    handler = functools.partial(QuietFiles, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        message = refused(lambda: Prometheus(url).number("up", AT), PrometheusError)
    finally:
        server.shutdown()
        server.server_close()
    assert (
        message
        == f"prometheus {url}: query 'up': not a Prometheus API answer (starts '<html><body>Grafana login</body></html>\\n')"
    )


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the tests' output clean
