"""Keys and signatures for moorage's own commands that call a running server.

``moorage plan``, ``placement``, ``replay`` and ``shadow-report`` sign their
requests like any boto3 client. :func:`resolve_access` finds the key: the
data dir's ``credentials`` file when it exists (the server on this
machine), else boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``,
``~/.aws/credentials``) for a server started with ``--credentials``.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from moorage.auth.keys import CREDENTIALS_FILE, KeyFileError, KeyPair, read_key_file


class AccessError(Exception):
    pass


@dataclass(frozen=True)
class Access:
    """Where the server is, and the key and region to sign for it with."""

    url: str
    keys: KeyPair
    region: str

    def client(self, service: str, config: Config | None = None) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.keys.access_key_id,
            aws_secret_access_key=self.keys.secret_access_key,
            config=config,
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> urllib.request.Request:
        """A signed ``urllib`` request for ``path`` on the server."""
        url = self.url.rstrip("/") + path
        aws = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        aws.headers["Host"] = urlsplit(url).netloc
        credentials = Credentials(self.keys.access_key_id, self.keys.secret_access_key)
        SigV4Auth(credentials, "sagemaker", self.region).add_auth(aws)
        return urllib.request.Request(
            url, data=body or None, headers=dict(aws.headers.items()), method=method
        )


def resolve_access(url: str, data_dir: Path, region: str | None) -> Access:
    chosen_region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key_file = data_dir / CREDENTIALS_FILE
    if key_file.exists():
        try:
            return Access(url, read_key_file(key_file).first, chosen_region)
        except KeyFileError as exc:
            raise AccessError(str(exc)) from None
    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise AccessError(
            f"no key to sign with: {key_file} does not exist (is --data-dir the server's?) "
            "and no AWS credentials are configured"
        )
    frozen = credentials.get_frozen_credentials()
    return Access(url, KeyPair(frozen.access_key, frozen.secret_key), chosen_region)
