"""Operator commands: `popdrop mailbox ...`, `popdrop deliver` and `popdrop gc`.

Each takes its storage face from the composition root (`popd.cli`), with addresses already
canonical: argument parsing normalised them."""

from __future__ import annotations

import datetime
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from popdrop.admin.errors import AdminError
from popdrop.canonical import to_canonical
from popdrop.faces.admin import AdminStore, MailboxAdmin
from popdrop.faces.ingest import IngestStore
from popdrop.logfmt import now_ms
from popdrop.model import Address, InvalidPassword, normalize_password

if TYPE_CHECKING:
    from popdrop.ingest import IngestResult


class UsageError(Exception):
    """The operator asked for something that cannot be done as asked; nothing was changed."""


def read_password(*, from_stdin: bool) -> str:
    """One line from stdin with --password-stdin, else an interactive prompt (asked twice)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the passwords do not match")
    else:
        raise UsageError("standard input is not a terminal: pass --password-stdin")
    try:
        return normalize_password(password)
    except InvalidPassword as error:
        raise UsageError(str(error)) from None


def mailbox(
    store: MailboxAdmin, action: str, canonical: Address | None, *, password_stdin: bool
) -> int:
    if action == "list":
        for box in store.list_mailboxes():
            print(f"{box.address}\t{box.message_count} messages\t{box.octets} octets")
        return 0
    assert canonical is not None
    # SCRAM (scramp, asn1crypto) only where a password is set: `list` should not pay for it.
    from popdrop.admin import mailboxes  # noqa: PLC0415

    if action == "add":
        mailboxes.create_mailbox(store, canonical, read_password(from_stdin=password_stdin))
        print(f"created {canonical}")
    elif action == "passwd":
        mailboxes.set_password(store, canonical, read_password(from_stdin=password_stdin))
        print(f"password changed for {canonical}")
    elif action == "apop-secret":
        # RFC 1939 §7: plaintext-equivalent, kept apart from the password hash (docs/pop3.md).
        store.set_apop_secret(canonical, read_password(from_stdin=password_stdin))
        print(f"APOP secret set for {canonical}")
    elif action == "remove":
        removed = store.remove_mailbox(canonical)
        print(f"removed {canonical} and its {removed} messages")
    return 0


def app_password(store: MailboxAdmin, action: str, canonical: Address, name: str | None) -> int:
    """`popdrop mailbox app-password add|list|revoke`."""
    from popdrop.admin import mailboxes  # noqa: PLC0415  (as in `mailbox`)

    if action == "add":
        assert name is not None
        try:
            _, password = mailboxes.add_app_password(store, canonical, name)
        except AdminError as error:
            raise UsageError(str(error)) from None
        print(
            f"app password {name!r} for {canonical} (shown only now; spaces and dashes optional):"
        )
        print(password)
    elif action == "list":
        for entry in mailboxes.list_app_passwords(store, canonical):
            used = (
                f"last used {_iso(entry.last_used_at)} from {entry.last_address}"
                if entry.last_used_at is not None
                else "never used"
            )
            print(f"{entry.name}\tcreated {_iso(entry.created_at)}\t{used}")
    elif action == "revoke":
        assert name is not None
        store.revoke_app_password(canonical, name)
        print(f"revoked app password {name!r} of {canonical}")
    return 0


def _iso(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deliver(store: IngestStore, recipients: Sequence[Address], files: Sequence[str]) -> int:
    """Deliver each file as its own message through the ingest code path, and say where it went.

    Every recipient must reach a mailbox as ingest resolves it (a mailbox, an alias, a
    plus-address or the domain's catch-all), checked before anything is stored, so a typo leaves
    nothing half-delivered.
    """
    # The pipeline only where mail is delivered: the other commands start without it.
    from popdrop.ingest import ingest, new_message_id  # noqa: PLC0415
    from popdrop.ingest.addressing import resolve  # noqa: PLC0415

    addresses = list(dict.fromkeys(recipients))
    unknown = resolve(store, addresses).unknown
    if unknown:
        raise UsageError(f"no such mailbox, alias or catch-all: {', '.join(unknown)}")
    if files.count("-") > 1:
        raise UsageError("standard input (-) can be delivered only once")
    messages = [(name, _read_message(name)) for name in files]
    for name, data in messages:
        message_id = new_message_id()
        key = store.put_incoming(message_id, data)
        result = ingest(
            store,
            message_id=message_id,
            object_key=key,
            recipients=addresses,
            arrived_at=now_ms(),
        )
        print(f"{name}: {message_id} {_filed(result)}")
    return 0


def _filed(result: IngestResult) -> str:
    """Where a message went, mailbox by mailbox: delivered, quarantined or dropped (and why)."""
    why = dict(result.reasons)
    said = [f"delivered to {', '.join(result.delivered)}"] if result.delivered else []
    said += [f"quarantined in {mailbox} ({why.get(mailbox, '')})" for mailbox in result.quarantined]
    said += [f"dropped for {mailbox} ({why.get(mailbox, '')})" for mailbox in result.dropped]
    said += [f"already in {mailbox}" for mailbox in result.duplicate]
    said += [f"not filed for {address}: no such mailbox now" for address in result.unknown]
    return "; ".join(said)


def collect_garbage(
    store: AdminStore, *, grace_seconds: float, dry_run: bool, full: bool = False
) -> int:
    """`popdrop gc`: delete the objects no mailbox entry references, and say what was done."""
    if grace_seconds < 0:
        raise UsageError("--grace-seconds must not be negative")
    report = store.collect_garbage(grace_seconds=grace_seconds, dry_run=dry_run, full=full)
    verb = "would delete" if dry_run else "deleted"
    for key in report.deleted:
        print(f"{verb} {key}")
    print(
        f"examined {report.objects_examined} objects; {verb} {len(report.deleted)} unreferenced; "
        f"{report.objects_in_grace} unreferenced but younger than {grace_seconds:g} s left alone"
    )
    return 0


def _read_message(name: str) -> bytes:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror}") from error
    if not raw:
        raise UsageError(f"{name} is empty: there is no message to deliver")
    return to_canonical(raw)
