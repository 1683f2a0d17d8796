"""Where export files live: a local directory (EXPORT_DIR, the default) or S3 (EXPORT_STORAGE=
s3://bucket/prefix), behind one small interface.

`writing` yields a binary output for the worker to stream into; only when the block ends
without an error does the file appear under its name, complete (a local temporary file fsynced
and renamed; an S3 multipart upload completed). On an error or a cancel nothing is left (the
temporary file removed; the upload aborted). An S3 upload holds one part (PART_BYTES) in memory
at a time and nothing on local disk.

With S3, boto3 reads the credentials and region the standard way (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, a profile or an instance role);
EXPORT_S3_ENDPOINT_URL points it at another S3 server (SeaweedFS, MinIO, ...).
"""

from __future__ import annotations

import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import BinaryIO

from core.config import S3Location, Settings

# mkstemp's 0600 would keep the file from nginx, which sends it (X-Accel-Redirect) as a member of
# the service's group; nobody else may read it.
EXPORT_FILE_MODE = 0o640
# S3 parts are at least 5 MiB (but the last); 8 MiB keeps a 10M-row CSV (~2 GB) within
# S3's 10,000 parts and the worker's memory small.
PART_BYTES = 8 * 1024 * 1024
# How long a presigned download URL lives: the client follows our redirect at once.
PRESIGNED_SECONDS = 300


class Storage(ABC):
    @abstractmethod
    @contextmanager
    def writing(self, export_id: str, name: str) -> Iterator[BinaryIO]:
        """An output that becomes the file `name` when the block ends without error."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete the file (no error if it is gone)."""

    @abstractmethod
    def remove_partials(self, export_id: str) -> None:
        """What an earlier attempt of this export left half-written (it died mid-write)."""

    @abstractmethod
    def remove_stale_partials(self, older_than: datetime) -> None:
        """Half-written files of any export untouched since `older_than` (naive UTC)."""


class LocalStorage(Storage):
    def __init__(self, directory: Path):
        self.directory = directory

    @contextmanager
    def writing(self, export_id: str, name: str) -> Iterator[BinaryIO]:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.directory, prefix=f".{export_id}.", suffix=".tmp")
        try:
            with open(handle, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp_name, EXPORT_FILE_MODE)
            os.replace(temp_name, self.directory / name)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)

    def path(self, name: str) -> Path | None:
        """The file's path, if `name` is a plain name of this directory and the file is there."""
        path = self.directory / name
        if path.resolve().parent != self.directory.resolve() or not path.is_file():
            return None
        return path

    def delete(self, name: str) -> None:
        (self.directory / Path(name).name).unlink(missing_ok=True)

    def remove_partials(self, export_id: str) -> None:
        for leftover in self.directory.glob(f".{export_id}.*.tmp"):
            leftover.unlink(missing_ok=True)

    def remove_stale_partials(self, older_than: datetime) -> None:
        if not self.directory.is_dir():
            return
        cutoff = older_than.replace(tzinfo=UTC).timestamp()
        for partial in self.directory.glob(".*.tmp"):
            if partial.stat().st_mtime < cutoff:
                partial.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable before the database says the file is there."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3Storage(Storage):
    def __init__(self, location: S3Location, endpoint_url: str | None):
        import boto3  # only the processes that use S3 pay for importing it
        from botocore.config import Config

        self.location = location
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url,
            config=Config(signature_version="s3v4", retries={"mode": "standard"},
                          # Path-style keeps an S3 server on localhost or an IP address reachable.
                          s3={"addressing_style": "path" if endpoint_url else "auto"}))

    def key(self, name: str) -> str:
        return self.location.prefix + name

    @contextmanager
    def writing(self, export_id: str, name: str) -> Iterator[BinaryIO]:
        upload = MultipartUpload(self.client, self.location.bucket, self.key(name))
        try:
            yield upload
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def presigned_url(self, name: str, attachment_name: str, content_type: str) -> str:
        """A GET of the object that works for PRESIGNED_SECONDS and names the download."""
        return self.client.generate_presigned_url("get_object", ExpiresIn=PRESIGNED_SECONDS, Params={
            "Bucket": self.location.bucket, "Key": self.key(name), "ResponseContentType": content_type,
            "ResponseContentDisposition": f'attachment; filename="{attachment_name}"'})

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.location.bucket, Key=self.key(name))

    def _uploads(self, prefix: str) -> Iterator[dict]:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=self.key(prefix))
        for page in pages:
            yield from page.get("Uploads", [])

    def _abort(self, upload: dict) -> None:
        self.client.abort_multipart_upload(Bucket=self.location.bucket, Key=upload["Key"],
                                           UploadId=upload["UploadId"])

    def remove_partials(self, export_id: str) -> None:
        for upload in self._uploads(f"{export_id}."):
            self._abort(upload)

    def remove_stale_partials(self, older_than: datetime) -> None:
        cutoff = older_than.replace(tzinfo=UTC)
        for upload in self._uploads(""):
            if upload["Initiated"] < cutoff:
                self._abort(upload)


class MultipartUpload(io.RawIOBase):
    """A write-only stream into an S3 multipart upload: each PART_BYTES written go up as a part."""

    def __init__(self, client, bucket: str, key: str):
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self._buffer = bytearray()
        self._parts: list[dict] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data) -> int:
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= PART_BYTES:  # a large write (a writer's batch) is still parts of PART_BYTES
            self._send_part(PART_BYTES)
        return len(data)

    def _send_part(self, size: int) -> None:
        number = len(self._parts) + 1
        answer = self._client.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                          PartNumber=number, Body=bytes(self._buffer[:size]))
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        del self._buffer[:size]

    def complete(self) -> None:
        if self._buffer or not self._parts:  # the last part may be small, even empty
            self._send_part(len(self._buffer))
        self._client.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                               MultipartUpload={"Parts": self._parts})

    def abort(self) -> None:
        self._buffer.clear()
        self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)


@cache
def _s3(location: S3Location, endpoint_url: str | None) -> S3Storage:
    return S3Storage(location, endpoint_url)  # a boto3 client is thread-safe and slow to make


def storage_of(settings: Settings) -> Storage:
    if settings.export_s3 is not None:
        return _s3(settings.export_s3, settings.export_s3_endpoint_url)
    return LocalStorage(settings.export_dir)
