"""`popdrop dev`'s mail across restarts: moto's state kept in the state dir as it changes.

Under `<state-dir>/aws/`:
  dynamodb.jsonl     a snapshot of every table's items, one {"table", "key", "item"} a line
  dynamodb.journal   each write's resulting items since the snapshot, in order (item null: gone)
  s3/<bucket>/<key>  each object (its key percent-encoded), its mtime the object's LastModified

Every DynamoDB write appends what it settled to the journal and hands it to the OS at once, and
every object is written (to a temporary name, then renamed) when it is stored and removed when it
is deleted; so killing `popdrop dev`, even with SIGKILL, loses no mail. (A machine crash can lose
what the OS had not yet written.) At start the snapshot, the journal and the objects are loaded
back into moto; at stop, and whenever the journal outgrows the snapshot, the journal is compacted
into a new snapshot. Once an object's file is written, moto reads the body from it rather than
holding it in memory, so the stack's memory does not grow with the size of the mail it holds.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.s3.models import FakeKey, S3Backend, s3_backends

from popd import moto_transactions
from popd.moto_transactions import WRITE_LOCK, ItemKey

SNAPSHOT = "dynamodb.jsonl"
JOURNAL = "dynamodb.journal"
OBJECTS = "s3"
# Compact when the journal is this much larger than the snapshot (and past a floor), so the
# journal's disk and replay time stay proportional to the data, not to its history of writes.
COMPACT_RATIO = 2
COMPACT_FLOOR = 64 * 1024 * 1024

_log = logging.getLogger(__name__)


class DevState:
    def __init__(self, directory: Path, region: str) -> None:
        self._directory = directory
        self._objects = directory / OBJECTS
        self._dynamodb: DynamoDBBackend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
        self._s3: S3Backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        self._journal: TextIO | None = None
        self._snapshot_size = 0

    def start(self) -> None:
        """Load what the state dir holds into moto (its tables must exist), then record writes."""
        self._directory.mkdir(parents=True, exist_ok=True)
        moto_transactions.untrack_instances("dynamodb", "s3")
        with WRITE_LOCK:
            for path in (self._directory / SNAPSHOT, self._directory / JOURNAL):
                if path.exists():
                    self._replay(path)
            self._load_objects()
            self._compact()
            moto_transactions.install(self._journal_writes)
            _install_s3_hooks()
            _S3_HOOKS.append(self)

    def stop(self) -> None:
        with WRITE_LOCK:
            moto_transactions.uninstall_hook(self._journal_writes)
            if self in _S3_HOOKS:
                _S3_HOOKS.remove(self)
            self._compact()
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # DynamoDB

    def _journal_writes(self, keys: Iterable[ItemKey]) -> None:
        assert self._journal is not None
        for key in keys:
            self._journal.write(_line(key) + "\n")
        self._journal.flush()
        if self._journal.tell() > max(COMPACT_FLOOR, COMPACT_RATIO * self._snapshot_size):
            self._compact()

    def _compact(self) -> None:
        snapshot = self._directory / SNAPSHOT
        temporary = snapshot.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            for key in self._every_item():
                out.write(_line(key) + "\n")
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(snapshot)
        self._snapshot_size = snapshot.stat().st_size
        if self._journal is not None:
            self._journal.close()
        self._journal = (self._directory / JOURNAL).open("w", encoding="utf-8")

    def _every_item(self) -> Iterator[ItemKey]:
        for table in list(self._dynamodb.tables.values()):
            items: Any = table.items
            for partition in list(items.values()):
                entries = list(partition.values()) if table.range_key_attr else [partition]
                for item in entries:
                    yield table, item.hash_key, item.range_key

    def _replay(self, path: Path) -> None:
        with path.open(encoding="utf-8") as lines:
            for number, text in enumerate(lines, 1):
                try:
                    record = json.loads(text)
                    key = moto_transactions.item_key(self._dynamodb, record["table"], record["key"])
                except (ValueError, KeyError):  # a line cut short by a kill: the write is lost
                    _log.warning("%s:%d: unreadable record skipped", path, number)
                    continue
                if record["item"] is None:
                    moto_transactions.set_item(key, None)
                else:
                    key[0].put_item(record["item"], overwrite=True)
                    moto_transactions.run_hooks([key])  # moto_compact's, as it loads

    # S3

    def object_stored(self, bucket: str, stored: FakeKey, value: bytes) -> None:
        path = self._object_path(bucket, stored.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(value)
        stamp = stored.last_modified.replace(tzinfo=datetime.UTC).timestamp()
        os.utime(temporary, (stamp, stamp))
        temporary.replace(path)
        _read_from_file(stored, path)

    def object_deleted(self, bucket: str, key: str) -> None:
        self._object_path(bucket, key).unlink(missing_ok=True)

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._objects / bucket / quote(key, safe="")

    def _load_objects(self) -> None:
        if not self._objects.is_dir():
            return
        for bucket in self._objects.iterdir():
            for path in bucket.iterdir():
                if path.name.endswith(".tmp"):  # a write cut short: the object was never stored
                    path.unlink()
                    continue
                stored = _ORIGINAL_PUT_OBJECT(
                    self._s3, bucket.name, unquote(path.name), path.read_bytes()
                )
                _read_from_file(stored, path)
                stamp = path.stat().st_mtime
                stored.last_modified = datetime.datetime.fromtimestamp(stamp, datetime.UTC).replace(
                    tzinfo=None  # moto keeps naive UTC times
                )


def _line(key: ItemKey) -> str:
    table, hash_key, range_key = key
    item = moto_transactions.get_item(key)
    address = {table.hash_key_attr: hash_key.to_json()}
    if range_key is not None and table.range_key_attr is not None:
        address[table.range_key_attr] = range_key.to_json()
    stored = None if item is None else {name: _wire(value) for name, value in item.attrs.items()}
    return json.dumps({"table": table.name, "key": address, "item": stored})


def _wire(value: DynamoType) -> dict[str, Any]:
    """A value as DynamoDB's JSON carries it, which is what `put_item` takes back. (moto's own
    `to_json` turns binaries nested in maps into bytes, which JSON cannot hold.)"""
    if value.is_map():
        return {value.type: {name: _wire(inner) for name, inner in value.value.items()}}
    if value.is_list():
        return {value.type: [_wire(inner) for inner in value.value]}
    if isinstance(value.value, bytes):
        return {value.type: base64.b64encode(value.value).decode("ascii")}
    return {value.type: value.value}


class _FileBody:
    """An object's body as its file in the state dir, read when moto reads the object, in place
    of moto's in-memory buffer. moto writes a key's body only when it makes the key, so this is
    read-only: seek, read, close (moto closes the body of a key it replaced or deleted)."""

    __slots__ = ("_path", "_position")

    def __init__(self, path: Path) -> None:
        self._path: str | None = os.fspath(path)
        self._position = 0

    def seek(self, position: int) -> int:
        self._position = position
        return position

    def read(self, size: int = -1) -> bytes:
        if self._path is None:  # as moto's buffer: a key replaced or deleted is disposed of
            raise ValueError("I/O operation on closed file.")
        with open(self._path, "rb") as body:
            body.seek(self._position)
            data = body.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        self._path = None


def _read_from_file(stored: FakeKey, path: Path) -> None:
    with stored.lock:  # moto reads a body under the key's lock
        stored._value_buffer = _FileBody(path)  # type: ignore[assignment]


_S3_HOOKS: list[DevState] = []


def _s3_put(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_object(self: S3Backend, bucket: str, key: str, value: bytes, *a: Any, **k: Any) -> Any:
        stored = original(self, bucket, key, value, *a, **k)
        for state in list(_S3_HOOKS):
            state.object_stored(bucket, stored, value)
        return stored

    return put_object


def _s3_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_object(self: S3Backend, bucket: str, key: str, *a: Any, **k: Any) -> Any:
        result = original(self, bucket, key, *a, **k)
        for state in list(_S3_HOOKS):
            state.object_deleted(bucket, key)
        return result

    return delete_object


_ORIGINAL_PUT_OBJECT: Callable[..., Any] = S3Backend.put_object


def _install_s3_hooks() -> None:
    """Wrap moto's S3 writes once (DeleteObjects deletes through `delete_object`)."""
    backend: Any = S3Backend
    if backend.put_object is _ORIGINAL_PUT_OBJECT:
        backend.put_object = _s3_put(_ORIGINAL_PUT_OBJECT)
        backend.delete_object = _s3_delete(backend.delete_object)
