"""Signed, expiring download links, and the files they resolve to.

A link is an export's id and type, an expiry (unix seconds) and a signature: an HMAC-SHA256 of
the export id and the expiry under DOWNLOAD_SECRET. It needs no bearer token (as the spec's
`curl -O`); whoever holds it may download until it expires. Anything wrong with it is a
NotFound that says no more, so a link cannot be probed. The web layer makes a link a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from core.config import Settings
from core.dates import utc_now
from core.errors import ConfigError, NotFound
from core.exports import state
from core.exports.formats import GZIP, file_name
from core.exports.status import ExportStatus

# ASCII only: int() refuses "²" and compare_digest() refuses non-ASCII text (both were 500s).
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
NOT_FOUND = "Export file not found, or the link has expired"


@dataclass(frozen=True)
class Link:
    export_id: str
    export_type: str
    compression: str
    expires: int  # unix seconds
    signature: str

    @property
    def file_name(self) -> str:
        return file_name(self.export_id, self.export_type, self.compression)


def _secret(settings: Settings) -> bytes:
    if not settings.download_secret:
        raise ConfigError("DOWNLOAD_SECRET: required to sign download links (or set JWT_SECRET)")
    return settings.download_secret.encode()


def signature(settings: Settings, export_id: str, expires: int) -> str:
    return hmac.new(_secret(settings), f"{export_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def _unix(utc_naive: datetime) -> int:
    return int(utc_naive.replace(tzinfo=UTC).timestamp())


def link(settings: Settings, export_id: str, export_type: str, compression: str, expires_at: datetime) -> Link:
    expires = _unix(expires_at)
    return Link(export_id, export_type, compression, expires, signature(settings, export_id, expires))


def link_of(settings: Settings, record: dict) -> Link | None:
    """The download link of a `ready` export; None for any other."""
    if record["status"] != ExportStatus.READY:
        return None
    return link(settings, record["id"], record["type"], record["compression"], record["expires_at"])


@dataclass(frozen=True)
class Download:
    file_name: str  # in the export storage
    export_type: str
    compression: str
    attachment_name: str  # what the admin's browser saves it as, e.g. transactions_20251108153045.csv.gz
    modified: datetime  # when the file was completed (naive UTC)


def check_link(settings: Settings, export_id: str, expires: str | None, given_signature: str | None) -> int:
    """The link's expiry (unix seconds) if its signature is the export's; NotFound otherwise."""
    if not (_EXPIRES.fullmatch(expires or "") and _SIGNATURE.fullmatch(given_signature or "")):
        raise NotFound(NOT_FOUND)
    if not hmac.compare_digest(signature(settings, export_id, int(expires)), given_signature):
        raise NotFound(NOT_FOUND)
    return int(expires)


def check_download(conn: Connection, settings: Settings, export_id: str, export_type: str, compression: str,
                   expires: int, now: datetime | None = None) -> Download:
    """The file behind a checked link (`check_link`); NotFound when the link has expired or the
    export is not `ready` (or not of that type and compression). The web layer sends it."""
    if expires <= _unix(now or utc_now()):
        raise NotFound(NOT_FOUND)
    record = state.load(conn, export_id)
    if (record is None or record["status"] != ExportStatus.READY or record["type"] != export_type
            or record["compression"] != compression):
        raise NotFound(NOT_FOUND)
    local_created = record["created_at"].replace(tzinfo=UTC).astimezone(settings.report_timezone)
    suffix = ".gz" if compression == GZIP else ""
    return Download(
        # Built from the validated id alone, never from the URL or a stored path.
        file_name=file_name(export_id, export_type, compression),
        export_type=export_type,
        compression=compression,
        attachment_name=f"{record['dataset']}_{local_created:%Y%m%d%H%M%S}.{export_type}{suffix}",
        modified=record["completed_at"],
    )
