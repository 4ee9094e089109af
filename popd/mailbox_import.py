"""`popdrop mailbox import FILE`: create mailboxes in bulk, for operators moving in.

The file is CSV (a header row naming `address` and `password` or `password_hash`) or JSON lines
(one object a line with the same keys), one mailbox a line. Idempotent and resumable: a mailbox
that already exists is skipped and counted, never changed, so running the same file again after an
interruption creates only what is missing. A bad line is reported by its number (never with its
password) and the rest of the file is still imported; the exit status is then 1, and fixing those
lines and re-running the file imports them and skips the rest.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from popd.admin import UsageError
from popdrop.admin.errors import InvalidPassword
from popdrop.admin.mailboxes import check_password
from popdrop.auth.passwords import hash_password, is_password_hash
from popdrop.auth.scram import derive_keys
from popdrop.faces.admin import MailboxAdmin
from popdrop.faces.faults import MailboxExists
from popdrop.model import Address, InvalidAddress, normalize_address

# A line longer than this is not an address and a password: it is reported, not parsed.
MAX_LINE_OCTETS = 4096
FIELDS = ("address", "password", "password_hash")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
PROGRESS_PERIOD = 0.1  # seconds between redraws of the progress bar
PROGRESS_WIDTH = 30


class BadLine(ValueError):
    """One line that cannot become a mailbox; the message never contains the password."""


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    address: Address
    password: str | None
    password_hash: str | None


@dataclass(slots=True)
class Tally:
    created: int = 0
    skipped: int = 0
    bad: int = 0
    first_line: dict[Address, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"created {self.created}, skipped {self.skipped} that already existed, "
            f"{self.bad} bad lines"
        )


def import_mailboxes(store: MailboxAdmin, path: Path, *, file_format: str | None) -> int:
    file_format = file_format or _format_of(path)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        total = _count_lines(handle)
        progress = _Progress(total, sys.stderr) if sys.stderr.isatty() else None
        run = _Import(store, path, progress)
        line = 0
        try:
            for line, entry in _entries(handle, file_format):
                run.take(line, entry)
        except KeyboardInterrupt:
            run.report(f"interrupted after line {line}: {run.tally.summary()}; run it again")
            raise
        if progress is not None:
            progress.finish(run.tally)
    print(f"{path}: {run.tally.summary()}")
    return 1 if run.tally.bad else 0


class _Import:
    def __init__(self, store: MailboxAdmin, path: Path, progress: _Progress | None) -> None:
        self._store = store
        self._path = path
        self._progress = progress
        # One read of the directory instead of a failed conditional write per existing mailbox.
        self._existing = {box.address for box in store.list_mailboxes()}
        self.tally = Tally()

    def take(self, line: int, entry: Entry | BadLine) -> None:
        if isinstance(entry, BadLine):
            self._bad(line, str(entry))
        else:
            self._create(entry)
        if self._progress is not None:
            self._progress.update(line, self.tally)

    def report(self, message: str) -> None:
        if self._progress is not None:
            self._progress.clear()
        print(message, file=sys.stderr)

    def _bad(self, line: int, reason: str) -> None:
        self.tally.bad += 1
        self.report(f"{self._path}:{line}: {reason}")

    def _create(self, entry: Entry) -> None:
        first = self.tally.first_line.setdefault(entry.address, entry.line)
        if first != entry.line:
            self._bad(entry.line, f"{entry.address} is already on line {first}")
            return
        if entry.address in self._existing:
            self.tally.skipped += 1
            return
        if entry.password is not None:
            password_hash, scram = hash_password(entry.password), derive_keys(entry.password)
        else:
            assert entry.password_hash is not None
            password_hash, scram = entry.password_hash, None  # SCRAM needs the password itself
        try:
            self._store.create_mailbox(entry.address, password_hash, scram)
        except MailboxExists:  # created by someone else since the directory was read
            self.tally.skipped += 1
            return
        self.tally.created += 1


def _format_of(path: Path) -> str:
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"cannot tell the format of {path} from its suffix: pass --format csv or jsonl"
        ) from None


def _count_lines(handle: BinaryIO) -> int:
    count, last = 0, b"\n"
    while chunk := handle.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    handle.seek(0)
    return count + (last != b"\n")


def _lines(handle: BinaryIO) -> Iterator[tuple[int, str | BadLine]]:
    """Numbered lines as text; an overlong or non-UTF-8 line comes out as a `BadLine`."""
    number = 0
    while raw := handle.readline(MAX_LINE_OCTETS + 1):
        number += 1
        if len(raw) > MAX_LINE_OCTETS and not raw.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_OCTETS)) and not rest.endswith(b"\n"):
                pass
            yield number, BadLine(f"longer than {MAX_LINE_OCTETS} octets")
            continue
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, BadLine("not UTF-8")


def _entries(handle: BinaryIO, file_format: str) -> Iterator[tuple[int, Entry | BadLine]]:
    header: list[str] | None = None
    for number, text in _lines(handle):
        if isinstance(text, BadLine):
            yield number, text
            continue
        if not text.strip():
            continue
        try:
            if file_format == "jsonl":
                yield number, _entry(number, _json_fields(text))
            elif header is None:
                header = _csv_header(text)
            else:
                yield number, _entry(number, _csv_fields(header, text))
        except BadLine as error:
            yield number, error


def _csv_header(text: str) -> list[str]:
    header = [name.strip().lower() for name in next(csv.reader([text]))]
    unknown = [name for name in header if name not in FIELDS]
    if unknown or "address" not in header or len(set(header)) != len(header):
        raise UsageError(
            f"the CSV header must name address and password or password_hash, once each "
            f"(found: {', '.join(header)})"
        )
    return header


def _csv_fields(header: list[str], text: str) -> dict[str, str]:
    values = next(csv.reader([text]))
    if len(values) != len(header):
        raise BadLine(f"{len(values)} fields where the header names {len(header)}")
    return {name: value for name, value in zip(header, values, strict=True) if value}


def _json_fields(text: str) -> dict[str, str]:
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadLine(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(fields, dict):
        raise BadLine("not a JSON object")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadLine(f"unknown keys: {', '.join(unknown)}")
    if not all(isinstance(value, str) for value in fields.values()):
        raise BadLine("every value must be a string")
    return {name: value for name, value in fields.items() if value}


def _entry(number: int, fields: dict[str, str]) -> Entry:
    try:
        address = normalize_address(fields.get("address", ""))
    except InvalidAddress as error:
        raise BadLine(str(error)) from None
    password, password_hash = fields.get("password"), fields.get("password_hash")
    if (password is None) == (password_hash is None):
        raise BadLine(f"{address}: give a password or a password_hash (one of them)")
    if password is not None:
        try:
            password = check_password(password)
        except InvalidPassword as error:
            raise BadLine(f"{address}: {error}") from None
    if password_hash is not None and not is_password_hash(password_hash):
        raise BadLine(f"{address}: the password_hash is not a popdrop scrypt hash")
    return Entry(number, address, password, password_hash)


class _Progress:
    """A one-line bar on the terminal, redrawn at most every PROGRESS_PERIOD seconds."""

    def __init__(self, total: int, out: TextIO) -> None:
        self._total = max(total, 1)
        self._out = out
        self._drawn_at = 0.0

    def update(self, line: int, tally: Tally, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < PROGRESS_PERIOD:
            return
        self._drawn_at = now
        done = min(line, self._total)
        filled = PROGRESS_WIDTH * done // self._total
        self._out.write(
            f"\r[{'#' * filled}{'.' * (PROGRESS_WIDTH - filled)}] {done}/{self._total} lines  "
            f"created {tally.created}  skipped {tally.skipped}  bad {tally.bad}"
        )
        self._out.flush()

    def clear(self) -> None:
        self._out.write("\r\x1b[2K")
        self._out.flush()

    def finish(self, tally: Tally) -> None:
        self.update(self._total, tally, force=True)
        self._out.write("\n")
        self._out.flush()
