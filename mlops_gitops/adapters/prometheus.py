"""A thin adapter over Prometheus's HTTP API: one instant query (``GET /api/v1/query`` with ``query``
and ``time``) whose answer is one number, which is what Flagger's ``MetricTemplate`` and Argo Rollouts'
``AnalysisTemplate`` users already write.

Standard library only (``urllib``), with a timeout. Every way a query can fail (no server, a timeout, a
refused token, a malformed query, an answer that is several series or not a number) is one line naming
the server and the query: :class:`~mlops_gitops.errors.PrometheusError` (exit 1) when the service
fails, :class:`~mlops_gitops.errors.PromQLError` (exit 2) when the query is at fault. A bearer token is
read from the environment variable the configuration names, sent only to that server (never along a
redirect) and never printed; a URL holding a password is refused (the manifest is in Git) and never
printed either.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_gitops.errors import PrometheusError, PromQLError, UsageError, one_line

if TYPE_CHECKING:  # pragma: no cover
    import urllib.error

DEFAULT_TIMEOUT = 10.0  # seconds: a rollout check runs on a schedule and may simply run again
MAX_RESPONSE = 8 << 20  # one number's answer is a few hundred bytes; a runaway vector is refused
QUERY_SHOWN = 300  # characters of a query quoted in an error line


@dataclass(frozen=True)
class Prometheus:
    """Where the server is (``url``: the base, e.g. ``http://prometheus:9090`` or a path prefix
    behind a proxy) and, if it needs one, the name of the environment variable holding a bearer token.
    The token itself is read at each query and never stored here, so no repr can show it."""

    url: str
    token_env: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        # urllib would also open file:// and ftp:// URLs: a server is http(s), nothing else.
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"prometheus: '{one_line(shown_url(self.url))}' is not an http(s) URL")
        if parts.username is not None or parts.password is not None:
            # The URL is written in the manifest, which is in Git for everyone who can read the code.
            raise UsageError(
                f"prometheus: {one_line(shown_url(self.url))}: the URL holds a user or password; "
                "name an environment variable holding a bearer token instead"
            )

    @property
    def server(self) -> str:
        """The URL as error lines show it."""
        return shown_url(self.url)

    def number(self, query: str, at: float | dt.datetime | None = None) -> float | None:
        """The one number ``query`` gives at ``at`` (unix seconds or an aware datetime; None: now).

        None when the answer is an empty vector: no series matched, which is what Prometheus answers
        for a counter nobody has incremented yet (no traffic), not a failure."""
        data = self._get(
            "/api/v1/query", {"query": query, **({} if at is None else {"time": _time(at)})}, query
        )
        return _single_number(data, self.server, query)

    def _get(self, path: str, params: dict[str, str], query: str) -> object:
        """The answer's ``data``: JSON from the server, narrowed where it is read."""
        import urllib.error
        import urllib.request

        url = self.url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        token = self._token()
        if token:
            # Unredirected: urllib copies ordinary headers onto a redirect, which may go elsewhere.
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        where = f"prometheus {self.server}: query {_shown(query)}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, where) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise PrometheusError(f"{where}: no answer within {self.timeout:g} s") from None
            raise PrometheusError(f"{where}: cannot connect: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise PrometheusError(f"{where}: no answer within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            # The connection dropped mid-answer (RemoteDisconnected, IncompleteRead, a reset).
            raise PrometheusError(f"{where}: broken answer: {_reason(exc)}") from None
        if len(body) > MAX_RESPONSE:
            raise PromQLError(
                f"{where}: answer larger than {MAX_RESPONSE >> 20} MiB; aggregate it to one number"
            )
        payload = _json(body, where)
        if payload.get("status") != "success":
            raise PromQLError(f"{where}: {_api_error(payload)}")
        return payload.get("data")

    def _token(self) -> str | None:
        if not self.token_env:
            return None
        token = os.environ.get(self.token_env, "").strip()
        if not token:
            raise UsageError(
                f"prometheus {self.server}: the bearer token's environment variable {self.token_env} is not set"
            )
        return token


def shown_url(url: str) -> str:
    """``url`` without ``user:password@``, the one part of a URL that must never be printed."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _time(at: float | dt.datetime) -> str:
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("a query time must be timezone-aware")  # a bug, not an input: say so
        at = at.timestamp()
    return f"{at:.3f}"


def _shown(query: str) -> str:
    text = one_line(query)
    return "'" + (text if len(text) <= QUERY_SHOWN else text[:QUERY_SHOWN] + "...") + "'"


def _reason(reason: object) -> str:
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return one_line(" ".join(str(text).split()))[:300]


def _json(body: bytes, where: str) -> dict[str, object]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        start = one_line(body[:80].decode("utf-8", "replace"))
        raise PrometheusError(f"{where}: not a Prometheus API answer (starts '{start}')") from None
    if not isinstance(payload, dict):
        raise PrometheusError(f"{where}: not a Prometheus API answer (a JSON {type(payload).__name__})")
    return payload


def _api_error(payload: Mapping[str, object]) -> str:
    kind, error = payload.get("errorType"), payload.get("error")
    text = f"{kind}: {error}" if kind else str(error or "status is not success")
    return one_line(" ".join(text.split()))[:500]


def _http_error(exc: urllib.error.HTTPError, where: str) -> PrometheusError:
    """An HTTP error status: Prometheus's own JSON error (400 bad_data, 422 execution, 503 timeout or
    unavailable) if the body is one, else the status (a proxy's 401, 403, 404 or 502)."""
    try:
        body = exc.read(64 * 1024)
    except (OSError, ValueError):
        body = b""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if isinstance(payload, dict) and payload.get("status") == "error":
        message = f"{where}: refused ({exc.code}): {_api_error(payload)}"
        # bad_data: the query does not parse or names a bad parameter; the query is at fault.
        return PromQLError(message) if payload.get("errorType") == "bad_data" else PrometheusError(message)
    hint = {
        401: "; is the bearer token right?",
        403: "; does the token allow queries?",
        404: "; is the URL the server's base (without /api/v1)?",
    }.get(exc.code, "")
    return PrometheusError(f"{where}: HTTP {exc.code} {one_line(str(exc.reason))}{hint}")


def _single_number(data: object, server: str, query: str) -> float | None:
    where = f"prometheus {server}: query {_shown(query)}"
    if not isinstance(data, dict):
        raise PrometheusError(f"{where}: not a Prometheus API answer (no data)")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample_value(result, where)
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            labels = ", ".join(_labels(r) for r in result[:3]) + (", ..." if len(result) > 3 else "")
            raise PromQLError(
                f"{where}: gives {len(result)} series ({labels}), not one number; aggregate them, e.g. sum(...)"
            )
        sample = result[0]
        return _sample_value(sample.get("value") if isinstance(sample, dict) else None, where)
    if kind == "matrix":
        raise PromQLError(
            f"{where}: gives a range vector; an instant query needs one number, e.g. sum(increase(...[1h]))"
        )
    raise PromQLError(f"{where}: gives a {one_line(str(kind))}, not a number")


def _sample_value(sample: object, where: str) -> float:
    """``[<unix time>, "<value>"]``: Prometheus writes the value as text (NaN and +Inf too)."""
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[1], str)):
        raise PrometheusError(f"{where}: not a Prometheus API answer (a sample is not [time, value])")
    try:
        value = float(sample[1])
    except ValueError:
        raise PrometheusError(f"{where}: the value '{one_line(sample[1][:40])}' is not a number") from None
    return value


def _labels(series: object) -> str:
    metric = series.get("metric") if isinstance(series, dict) else None
    if not isinstance(metric, dict):
        return "{}"
    text = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return one_line("{" + text + "}")[:120]
