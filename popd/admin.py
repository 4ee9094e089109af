"""Operator commands: `popdrop mailbox ...`, `popdrop deliver` and `popdrop gc`.

Each takes its storage face from the composition root (`popd.cli`), with addresses already
canonical: argument parsing normalised them."""

from __future__ import annotations

import datetime
import getpass
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from popdrop.auth import app_passwords
from popdrop.auth.passwords import hash_password
from popdrop.auth.scram import derive_keys
from popdrop.canonical import to_canonical
from popdrop.faces.admin import AdminStore, MailboxAdmin
from popdrop.faces.faults import MailboxNotFound
from popdrop.faces.ingest import IngestStore
from popdrop.ingest import ingest, new_message_id
from popdrop.logfmt import now_ms
from popdrop.model import Address, AppPassword

# A password longer than this is almost certainly a pasted file, not a password.
MAX_PASSWORD_LENGTH = 1024


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
    if not password:
        raise UsageError("the password is empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UsageError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    return password


def mailbox(
    store: MailboxAdmin, action: str, canonical: Address | None, *, password_stdin: bool
) -> int:
    if action == "list":
        for box in store.list_mailboxes():
            print(f"{box.address}\t{box.message_count} messages\t{box.octets} octets")
        return 0
    assert canonical is not None
    if action == "add":
        password = read_password(from_stdin=password_stdin)
        store.create_mailbox(canonical, hash_password(password), derive_keys(password))
        print(f"created {canonical}")
    elif action == "passwd":
        password = read_password(from_stdin=password_stdin)
        store.set_password(canonical, hash_password(password), derive_keys(password))
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
    if action == "add":
        assert name is not None
        password, digest = app_passwords.generate()
        try:
            entry = AppPassword(name=name, digest=digest, created_at=int(time.time()))
        except ValueError as error:
            raise UsageError(str(error)) from None
        store.add_app_password(canonical, entry)
        print(
            f"app password {name!r} for {canonical} (shown only now; spaces and dashes optional):"
        )
        print(password)
    elif action == "list":
        mailbox = store.get_mailbox(canonical)
        if mailbox is None:
            raise MailboxNotFound(canonical)
        for entry in mailbox.app_passwords:
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
    """Deliver each file as its own message through the ingest code path.

    Every recipient must be an existing mailbox, checked before anything is stored, so a typo
    leaves nothing half-delivered.
    """
    addresses = list(dict.fromkeys(recipients))
    found = store.lookup(addresses).mailboxes
    unknown = [a for a in addresses if a not in found]
    if unknown:
        raise UsageError(f"no such mailbox: {', '.join(unknown)}")
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
        print(f"{name}: {message_id} delivered to {', '.join(result.delivered) or 'nobody'}")
    return 0


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
