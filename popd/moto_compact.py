"""moto's S3 and DynamoDB holding `popdrop dev`'s mail in less memory, with the same API answers.

moto keeps every item and object in Python objects. Measured with tracemalloc on the real ingest
path (docs/performance.md, "The local stack"), one 2 KiB message cost about 16 KiB: its four
DynamoDB items as about 46 `DynamoType` objects, each attribute name a string of its own in every
item, and each key attribute held twice (in the item's attributes and as its key); its S3 object
as a `FakeKey` with a 35-entry instance dict, a spooled temporary file around the body, and a lock
and a list of its own. `install` makes every write leave those in a compact form:

- items: attribute names interned; scalar values (S, N, B, BOOL, NULL), which moto never changes in
  place, shared between items through a bounded table; the key held once. Maps, lists and sets are
  the item's own, since moto's updates change them in place.
- objects: the body in a `BytesIO` over its bytes; one lock for every key; the attributes that
  hold moto's defaults (no encryption key, no lock mode, no checksum...) read from the class.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.s3.models import FakeKey
from moto.settings import get_s3_default_key_buffer_size

from popd import moto_transactions
from popd.moto_transactions import ItemKey

_SCALAR_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL"})
# Shared scalar values. Most values of one message are its own (uids, times), so the table is
# emptied when full rather than kept whole: the values many items repeat come straight back in,
# and the table's own memory stays under about 1 MiB.
SHARED_VALUES_LIMIT = 4096
_shared: dict[tuple[str, Any], DynamoType] = {}


def _share(value: DynamoType) -> DynamoType:
    """The one DynamoType held for this scalar, or `value` itself, made the one."""
    address = (value.type, value.value)
    shared = _shared.get(address)
    if shared is not None:
        return shared
    if len(_shared) >= SHARED_VALUES_LIMIT:
        _shared.clear()
    _shared[address] = value
    return value


def compact_value(value: DynamoType) -> DynamoType:
    if value.type in _SCALAR_TYPES:
        return _share(value)
    if value.is_map():
        value.value = {
            sys.intern(name): compact_value(inner) for name, inner in value.value.items()
        }
    elif value.is_list():
        value.value = [compact_value(inner) for inner in value.value]
    return value


def compact_item(item: Item, hash_attr: str, range_attr: str | None) -> None:
    """Rebuild the item's attributes compactly; readers see the old dict or the new one whole.

    The key attributes become the item's own key objects, which are also the keys of moto's
    table dicts when the put made the item (its range key always, its hash key for a new
    partition); the hash key is shared with the other items of its partition."""
    attrs = LimitedSizeDict(
        {sys.intern(name): compact_value(value) for name, value in item.attrs.items()}
    )
    item.hash_key = attrs[hash_attr] = _share(item.hash_key)
    if range_attr is not None and item.range_key is not None:
        attrs[range_attr] = item.range_key
    item.attrs = attrs


def _compact_written(keys: Iterable[ItemKey]) -> None:
    for key in keys:
        item = moto_transactions.get_item(key)
        if item is not None:
            compact_item(item, key[0].hash_key_attr, key[0].range_key_attr)


# S3: what a FakeKey holds that is the same for every key popdrop stores. Read from the class
# when the instance does not have them; a key that sets one (a lock mode, a checksum) keeps its own.
# Not here: what moto sets on most keys later (`_tick` on each GET, `_etag`, `_status`), which
# would make the instance dict grow again.
_KEY_DEFAULTS: dict[str, Any] = {
    "model_name": "s3::keyrestore",
    "checksum_algorithm": None,
    "_expiry": None,
    "_is_versioned": False,
    "multipart": None,
    "disposed": False,
    "kms_key_id": None,
    "bucket_key_enabled": None,
    "lock_mode": None,
    "lock_legal_status": None,
    "lock_until": None,
    "checksum_value": None,
    "checksum_type": None,
    "checksum_parts": None,
    "encryption": None,
}
_KEY_LOCK = threading.Lock()  # held only while one body is read: one for all keys is enough


def compact_key(key: FakeKey) -> None:
    defaults: dict[str, Any] = {**_KEY_DEFAULTS, "_max_buffer_size": _buffer_size()}
    fields = vars(key)
    if key.contentsize <= fields["_max_buffer_size"]:  # in memory, not rolled over to a file
        fields["_value_buffer"] = io.BytesIO(key.value)  # shares the bytes until written to
    fields["lock"] = _KEY_LOCK
    fields["_transitions"] = _TRANSITIONS
    key.__dict__ = {
        name: value
        for name, value in fields.items()
        if not (
            name in defaults and type(value) is type(defaults[name]) and value == defaults[name]
        )
    }


@functools.cache
def _buffer_size() -> int:
    return get_s3_default_key_buffer_size()


_TRANSITIONS: list[tuple[str | None, str]] = [(None, "IN_PROGRESS"), ("IN_PROGRESS", "RESTORED")]


def _compacting_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def __init__(self: FakeKey, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        compact_key(self)

    return __init__


_installed = False


def install() -> None:
    """Patch moto's DynamoDB writes and S3 keys in this process (once)."""
    global _installed  # noqa: PLW0603
    with moto_transactions.WRITE_LOCK:
        if _installed:
            return
        clashes = [name for name in _KEY_DEFAULTS if hasattr(FakeKey, name)]
        if clashes or "_value_buffer" not in FakeKey.__init__.__code__.co_names:
            raise RuntimeError("moto's FakeKey changed: review popd/moto_compact.py")
        for name, value in _KEY_DEFAULTS.items():
            setattr(FakeKey, name, value)
        FakeKey._max_buffer_size = _buffer_size()
        FakeKey.__init__ = _compacting_init(FakeKey.__init__)  # type: ignore[method-assign]
        moto_transactions.install(_compact_written)
        _installed = True
