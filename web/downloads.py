"""HTTP of the download route: which bytes a request asks for (Range, If-Range), who asks
(the client's address, through a trusted proxy), and the body that counts what it sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import BinaryIO

import falcon

CHUNK_BYTES = 64 * 1024
_SINGLE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


@dataclass(frozen=True)
class Span:
    """Bytes `start` to `end` inclusive, of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def entity_tag(export_id: str, size: int) -> str:
    """A strong validator: an export's file is written once, so its id and size name its bytes."""
    return f'"{export_id}-{size}"'


def http_date(utc_naive: datetime) -> str:
    return format_datetime(utc_naive.replace(tzinfo=UTC), usegmt=True)


def requested_span(range_header: str | None, if_range: str | None, validators: tuple[str, str],
                   size: int) -> Span | None:
    """The single byte range asked for, or None for the whole file: no Range, one that is not a
    single `bytes=` range we understand (several ranges too: RFC 9110 lets a server send the
    whole file), or an If-Range that matches neither validator (ETag, Last-Modified).
    HTTPRangeNotSatisfiable when the range starts past the end (or asks for the last 0 bytes)."""
    if range_header is None or (if_range is not None and if_range.strip() not in validators):
        return None
    match = _SINGLE_RANGE.fullmatch(range_header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        return Span(max(0, size - suffix), size - 1, size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # not a valid range: ignored
    if start >= size:
        raise _unsatisfiable(size)
    return Span(start, min(end, size - 1), size)


def _unsatisfiable(size: int) -> falcon.HTTPRangeNotSatisfiable:
    return falcon.HTTPRangeNotSatisfiable(
        size, description=f"The range asked for is outside the file's {size} bytes")


def client_address(req: falcon.Request, trusted_proxies: tuple[IPv4Network | IPv6Network, ...]) -> str:
    """The peer's address; when the peer is a trusted proxy (TRUSTED_PROXIES), the nearest
    X-Forwarded-For hop that is not one: hops further left are whatever the client wrote."""
    address = req.remote_addr
    if not _is_trusted(address, trusted_proxies):
        return address
    hops = [hop.strip() for hop in (req.get_header("X-Forwarded-For") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop
        if not _is_trusted(hop, trusted_proxies):
            break
    return address


def _is_trusted(address: str, trusted_proxies: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted_proxies)


class CountedBody:
    """`length` bytes of `stream` from `start`, as the WSGI iterable of a response. The server
    asks for the next chunk only after writing the one before, so a chunk counts as sent once
    the next is asked for (or the end is reached); `on_close` gets that count once, when the
    server closes the body: after the last byte, or after a client went away mid-way."""

    def __init__(self, stream: BinaryIO, start: int, length: int, on_close: Callable[[int], None]):
        stream.seek(start)
        self._stream, self._left, self._on_close = stream, length, on_close
        self._sent = self._pending = 0
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self._sent += self._pending
        self._pending = 0
        chunk = self._stream.read(min(CHUNK_BYTES, self._left)) if self._left else b""
        if not chunk:
            raise StopIteration
        self._left -= len(chunk)
        self._pending = len(chunk)
        return chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        self._on_close(self._sent)
