"""HTTP for downloads, without IO: entity tags and conditional requests (RFC 9110 §8.8.3, §13),
byte ranges (RFC 9110 §14), and a Content-Disposition that is always safe (RFC 6266, RFC 8187).

A message never changes once filed (its unique id is never reused, DESIGN invariant 5), so its
entity tag is strong and computed, not read from storage: a conditional or HEAD request costs no
S3 request at all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
# Characters kept in a filename's ASCII fallback: no quote, backslash, control, path separator.
_UNSAFE_FILENAME: Final = re.compile(r"[^A-Za-z0-9._ ()+,=@\[\]{}~-]")


def entity_tag(*parts: str) -> str:
    """A strong entity tag for content named by `parts` (a message's object key, a part id)."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return f'"{digest[:32]}"'


def none_match(header: str | None, tag: str) -> bool:
    """True when an If-None-Match header names this tag (weak comparison, RFC 9110 §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    candidates = {item.strip().removeprefix("W/") for item in header.split(",")}
    return tag in candidates


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable(Exception):
    """The range starts at or past the end (RFC 9110 §15.5.17: 416)."""


def byte_range(header: str | None, if_range: str | None, tag: str, size: int) -> ByteRange | None:
    """The one byte range to send, or None for the whole content.

    Only a single range is served: a header that is not one valid range, or asks for several, is
    ignored (RFC 9110 §14.2 lets a server ignore Range), as is a Range whose If-Range names
    another entity (§13.1.5). Raises `Unsatisfiable` for a valid range with no octet in it.
    """
    if header is None or (if_range is not None and if_range.strip() != tag):
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last `last` octets
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise Unsatisfiable
    end = size if last == "" else min(int(last) + 1, size)
    return ByteRange(start, end)


def attachment(filename: str) -> str:
    """`attachment` with the filename as an ASCII fallback and, when it is not plain ASCII, as
    RFC 8187 UTF-8: a browser saves the content, never shows it in the API's origin."""
    fallback = _UNSAFE_FILENAME.sub("_", filename).strip() or "download"
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
