"""moto's DynamoDB as `popdrop dev` runs it: transactions that back up only the items they touch,
writes serialised as DynamoDB serialises writes to an item, and a hook that sees every write.

moto 5's `transact_write_items` deep-copies each table a transaction names before it runs, to
restore the copy if the transaction is cancelled. Every ingest runs transactions on the one table,
so filling the local stack slowed quadratically and its memory grew past 22 GB after about 1,700
messages (issue 13). `install` keeps moto's own transaction code (its condition checks, its
cancellation reasons, its validation) and changes only what it backs up: the items the transaction
names, copied before it runs and put back if it fails.

moto runs requests in parallel threads with no lock, so two conditional writes of one item could
both pass their condition; DynamoDB never lets that happen. Writes here take one lock, which also
gives the write hook (the state journal, `popd.devstate`) a consistent view.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.model_instances import model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

# (table, hash key, range key or None): one item's address.
ItemKey = tuple[Table, DynamoType, DynamoType | None]
WriteHook = Callable[[Iterable[ItemKey]], None]

WRITE_LOCK = threading.RLock()
_hooks: list[WriteHook] = []
_depth = 0  # nesting of patched writes (a transaction calls put_item...): only the outer one hooks


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's `transact_write_items`, whose only use of it
    is the whole-table backup: the backup is the table itself, and putting it back is a no-op."""

    @staticmethod
    def deepcopy(table: Table) -> Table:
        return table


def _without_table_copies(original: Callable[..., Any]) -> Callable[..., Any]:
    code = original.__code__
    if not {"copy", "deepcopy"} <= set(code.co_names):
        raise RuntimeError("moto's transact_write_items changed: review popd/moto_transactions.py")
    namespace = {**original.__globals__, "copy": _NoTableCopy}
    return types.FunctionType(code, namespace, original.__name__, original.__defaults__)


def item_key(backend: DynamoDBBackend, table_name: str, attributes: dict[str, Any]) -> ItemKey:
    table = backend.get_table(table_name)
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_attr = table.range_key_attr
    return table, hash_key, None if range_attr is None else DynamoType(attributes[range_attr])


def get_item(key: ItemKey) -> Item | None:
    table, hash_key, range_key = key
    items: Any = table.items  # {hash: Item}, or {hash: {range: Item}} with a range key
    partition = items.get(hash_key)
    if range_key is None or partition is None:
        return partition  # type: ignore[no-any-return]
    return partition.get(range_key)  # type: ignore[no-any-return]


def set_item(key: ItemKey, item: Item | None) -> None:
    """Put `item` at `key` as it was (None: no item there), bypassing moto's write path."""
    table, hash_key, range_key = key
    items: Any = table.items
    if range_key is None:
        if item is None:
            items.pop(hash_key, None)
        else:
            items[hash_key] = item
    elif item is not None:
        items[hash_key][range_key] = item
    elif (partition := items.get(hash_key)) is not None:
        partition.pop(range_key, None)
        if not partition:
            del items[hash_key]


def _action_keys(backend: DynamoDBBackend, actions: list[dict[str, Any]]) -> list[ItemKey]:
    keys = []
    for action in actions:
        try:
            ((kind, operation),) = action.items()
            attributes = operation["Item"] if kind == "Put" else operation["Key"]
            keys.append(item_key(backend, operation["TableName"], attributes))
        except Exception:  # noqa: S112  moto rejects the malformed action; it writes nothing
            continue
    return keys


def run_hooks(keys: Iterable[ItemKey]) -> None:
    """Show the hooks items written without moto's write path (a state dir loaded back)."""
    if _depth == 0:
        settled = list(keys)
        for hook in _hooks:
            hook(settled)


def _patched_transaction(original: Callable[..., Any]) -> Callable[..., Any]:
    transact = _without_table_copies(original)

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, actions: list[dict[str, Any]]) -> None:
        global _depth  # noqa: PLW0603  guarded by WRITE_LOCK
        with WRITE_LOCK:
            keys = _action_keys(self, actions)
            backups = [(key, copy.deepcopy(get_item(key))) for key in keys]
            _depth += 1
            try:
                transact(self, actions)
            except BaseException:
                for key, item in reversed(backups):
                    set_item(key, item)
                raise
            finally:
                _depth -= 1
            run_hooks(keys)

    return transact_write_items


def _patched_write(original: Callable[..., Any]) -> Callable[..., Any]:
    """put_item(table, item, ...), update_item(table, key, ...), delete_item(table, key, ...)."""

    @functools.wraps(original)
    def write(
        self: DynamoDBBackend, table_name: str, attributes: Any, *args: Any, **kw: Any
    ) -> Any:
        global _depth  # noqa: PLW0603  guarded by WRITE_LOCK
        with WRITE_LOCK:
            _depth += 1
            try:
                result = original(self, table_name, attributes, *args, **kw)
            finally:
                _depth -= 1
            run_hooks([item_key(self, table_name, attributes)])
            return result

    return write


_installed = False


def install(hook: WriteHook | None = None) -> None:
    """Patch moto's DynamoDB in this process (once); `hook` sees the keys each write settled."""
    global _installed  # noqa: PLW0603
    with WRITE_LOCK:
        if hook is not None:
            _hooks.append(hook)
        if _installed:
            return
        backend: Any = DynamoDBBackend
        backend.transact_write_items = _patched_transaction(backend.transact_write_items)
        for name in ("put_item", "update_item", "delete_item"):
            setattr(backend, name, _patched_write(getattr(backend, name)))
        _installed = True


class _Untracked(list[Any]):
    """An `instances_tracked` that keeps nothing."""

    def append(self, _: Any) -> None:
        return None


def untrack_instances(*services: str) -> None:
    """Stop moto remembering every model object of these services it ever made.

    moto appends each new model object (each DynamoDB item version, each copy a transaction or an
    update makes, each S3 object and its ACL) to a class-wide list, for its `/moto-api` dashboard,
    and never lets go: resident memory grew by about 30 KiB a message, most of it item versions
    long replaced. The stored data is unaffected; the dashboard no longer lists these objects.
    """
    for service in services:
        for model in model_data[service].values():
            model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def uninstall_hook(hook: WriteHook) -> None:
    with WRITE_LOCK:
        if hook in _hooks:
            _hooks.remove(hook)
