"""An S3 API on the loopback interface for tests whose DVC remote is ``s3://``: moto's server
(``moto.server.ThreadedMotoServer``, PyPI ``moto[server]``) in a thread of the test process.

``serve()`` starts it on a free 127.0.0.1 port, creates one bucket and yields an ``S3Endpoint``: the
endpoint URL, the bucket, and two fake key pairs (moto accepts any). The ``s3`` fixture does this once
per test module (``from tests.s3server import s3_fixture``; each pytest-xdist worker is a process of its own, so workers never share a server).

A DVC remote reaches it as a real user's would: ``s3://BUCKET/PREFIX`` with ``endpointurl`` committed
in ``.dvc/config``, and credentials only in the environment (CI: repository secrets) or in the
developer's uncommitted ``.dvc/config.local`` (``add_dvc_remote``). Assertions read the bucket through
boto3 (``keys``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """The variables boto3 and DVC's s3fs read."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


@dataclass(frozen=True)
class S3Endpoint:
    endpoint: str  # http://127.0.0.1:PORT
    bucket: str
    writer: KeyPair  # what the default branch's runs and the developer use
    reader: KeyPair  # what pull-request runs get (moto does not enforce read-only: the tests check)

    def url(self, prefix: str = "dvc") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.writer.access_key_id,
            aws_secret_access_key=self.writer.secret_access_key,
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key of the bucket under ``prefix``, sorted."""
        found: list[str] = []
        for page in (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        ):
            found += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(found)

    def add_dvc_remote(self, repo: Path, name: str = "storage", prefix: str = "dvc") -> None:
        """``s3://BUCKET/PREFIX`` as the default remote of ``repo``, its endpoint in ``.dvc/config``
        (committed), the writer's keys in ``.dvc/config.local`` (DVC's git-ignored local config)."""
        for args in (
            ["remote", "add", "-d", name, self.url(prefix)],
            ["remote", "modify", name, "endpointurl", self.endpoint],
            ["remote", "modify", "--local", name, "access_key_id", self.writer.access_key_id],
            ["remote", "modify", "--local", name, "secret_access_key", self.writer.secret_access_key],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True
            )
            assert proc.returncode == 0, f"dvc {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"


def _pair(kind: str) -> KeyPair:
    return KeyPair(f"AKIA{kind}{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30))


@contextlib.contextmanager
def serve() -> Iterator[S3Endpoint]:
    """moto's S3 on 127.0.0.1 (only), on a port the system picks, one fresh bucket; stopped on exit."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request on stderr: keep that out of the tests' output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = S3Endpoint(
            endpoint=f"http://{host}:{port}",
            bucket=f"mlops-test-{secrets.token_hex(4)}",
            writer=_pair("WRITE"),
            reader=_pair("READ"),
        )
        s3.client().create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        server.stop()


# A caller that must read the bucket after the tests end (benchmarks/bench_e2e.py replays the story's
# commits against it) serves it itself and hands it over here, as JSON of an S3Endpoint.
SHARED = "MLOPS_TEST_S3"


def to_json(s3: S3Endpoint) -> str:
    return json.dumps(dataclasses.asdict(s3))


def from_json(text: str) -> S3Endpoint:
    data = json.loads(text)
    return S3Endpoint(data["endpoint"], data["bucket"], KeyPair(**data["writer"]), KeyPair(**data["reader"]))


@pytest.fixture(scope="module", name="s3")
def s3_fixture() -> Iterator[S3Endpoint]:
    """``s3``: moto's S3 API on a free loopback port with one bucket, for the test module (or the one
    ``$MLOPS_TEST_S3`` names). A test module imports ``s3_fixture`` (unused to linters) and asks for
    ``s3``."""
    if os.environ.get(SHARED):
        yield from_json(os.environ[SHARED])
        return
    with serve() as endpoint:
        yield endpoint
