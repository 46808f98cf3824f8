"""Uploaded files in an S3-compatible bucket (AWS, Ceph RGW, MinIO, …), so workers on other machines
read the same bytes the API received. Needs the ``s3`` extra (boto3).

An S3 PUT is atomic (an object is either the old or the new bytes, never half), so ``put`` needs
no temporary object; a failed upload (bucket quota, lost connection) leaves no object behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import ConfigError, NotFoundError, StorageError
from core.settings import Settings
from core.stores.blob import check_key


class S3BlobStore:
    """Blobs as objects ``<prefix><key>`` in one bucket."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError('KB_BLOB_BACKEND=s3 needs boto3: pip install -e ".[s3]"') from None
        self.bucket = settings.s3_bucket or ""
        self.prefix = settings.s3_prefix
        secret = settings.s3_secret_access_key
        self.client = client or boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            region_name=settings.s3_region,
            # Path-style works with every S3 implementation (RGW, MinIO) and needs no wildcard DNS.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _error(self, exc: Exception, key: str) -> Exception:
        from botocore.exceptions import ClientError

        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFoundError(f"stored file {key!r} is missing")
        return StorageError(
            f"S3 bucket {self.bucket!r}: could not access {key!r} ({type(exc).__name__}: {exc})"
        )

    def put(self, key: str, stream: BinaryIO) -> int:
        name = self._name(key)
        try:
            self.client.upload_fileobj(stream, self.bucket, name)
            return int(self.client.head_object(Bucket=self.bucket, Key=name)["ContentLength"])
        except Exception as exc:
            raise self._error(exc, key) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except Exception as exc:
            raise self._error(exc, key) from exc
        return body  # type: ignore[no-any-return]

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            raise self._error(exc, key) from exc

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._name(prefix.rstrip("/")) + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if isinstance(self._error(exc, key), NotFoundError):
                return False
            raise self._error(exc, key) from exc
        return True

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A temporary local copy (loaders read paths), removed when the context ends."""
        folder = Path(tempfile.mkdtemp(prefix="kb-blob-"))
        try:
            target = folder / Path(key).name
            with self.open(key) as body, open(target, "wb") as out:
                shutil.copyfileobj(body, out, 1 << 20)
            yield target
        finally:
            shutil.rmtree(folder, ignore_errors=True)
