"""The `popdrop` operator commands, run as subprocesses against the moto server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from popdrop.auth.passwords import verify_password
from popdrop.store import Store
from tests.support import stored_object


def popdrop(
    store: Store, *args: str, stdin: str | bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "POPDROP_INCOMING_PREFIX": store.incoming_prefix,
    }
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "popd.cli", *args],
        input=data if data is not None else b"",
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_mailbox_add_list_passwd_remove(store: Store) -> None:
    added = popdrop(
        store, "mailbox", "add", "Bob@Example.Test", "--password-stdin", stdin="s3cret\n"
    )
    assert added.returncode == 0, added.stderr
    mailbox = store.get_mailbox("bob@example.test")
    assert mailbox is not None and verify_password("s3cret", mailbox.password_hash)

    listed = popdrop(store, "mailbox", "list")
    assert b"bob@example.test" in listed.stdout

    changed = popdrop(
        store, "mailbox", "passwd", "bob@example.test", "--password-stdin", stdin="n3w pass\n"
    )
    assert changed.returncode == 0, changed.stderr
    mailbox = store.get_mailbox("bob@example.test")
    assert mailbox is not None and verify_password("n3w pass", mailbox.password_hash)

    removed = popdrop(store, "mailbox", "remove", "bob@example.test")
    assert removed.returncode == 0, removed.stderr
    assert store.get_mailbox("bob@example.test") is None


def test_mailbox_add_twice_fails_and_keeps_the_first_password(store: Store) -> None:
    assert (
        popdrop(
            store, "mailbox", "add", "c@example.test", "--password-stdin", stdin="one\n"
        ).returncode
        == 0
    )
    again = popdrop(store, "mailbox", "add", "c@example.test", "--password-stdin", stdin="two\n")
    assert again.returncode != 0
    assert b"Traceback" not in again.stderr
    mailbox = store.get_mailbox("c@example.test")
    assert mailbox is not None and verify_password("one", mailbox.password_hash)


def test_mailbox_add_without_a_password_source_is_refused(store: Store) -> None:
    result = popdrop(store, "mailbox", "add", "d@example.test")
    assert result.returncode == 2
    assert b"--password-stdin" in result.stderr
    assert store.get_mailbox("d@example.test") is None


def test_invalid_address_is_a_clear_error(store: Store) -> None:
    result = popdrop(store, "mailbox", "add", "not an address", "--password-stdin", stdin="x\n")
    assert result.returncode == 2
    assert b"not a mailbox address" in result.stderr


def test_remove_removes_messages_too(store: Store, tmp_path: Path) -> None:
    popdrop(store, "mailbox", "add", "e@example.test", "--password-stdin", stdin="pw\n")
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    assert popdrop(store, "deliver", "--to", "e@example.test", str(message)).returncode == 0
    entry = store.list_messages("e@example.test")[0]
    result = popdrop(store, "mailbox", "remove", "e@example.test")
    assert b"1 messages" in result.stdout
    assert store.list_messages("e@example.test") == ()
    assert store.get_message("e@example.test", entry.uid) is None


def test_deliver_normalizes_line_ends_and_adds_nothing(store: Store, tmp_path: Path) -> None:
    popdrop(store, "mailbox", "add", "f@example.test", "--password-stdin", stdin="pw\n")
    popdrop(store, "mailbox", "add", "g@example.test", "--password-stdin", stdin="pw\n")
    first, second = tmp_path / "1.eml", tmp_path / "2.eml"
    first.write_bytes(b"Subject: unix\n\nline one\nline two\n")
    second.write_bytes(b"Subject: dos\r\n\r\nbody\r\n")
    result = popdrop(
        store,
        "deliver",
        "--to",
        "F@example.test",
        "--to",
        "g@example.test",
        str(first),
        str(second),
    )
    assert result.returncode == 0, result.stderr
    for address in ("f@example.test", "g@example.test"):
        entries = store.list_messages(address)
        bodies = [stored_object(store, entry.object_key) for entry in entries]
        assert bodies == [
            b"Subject: unix\r\n\r\nline one\r\nline two\r\n",
            b"Subject: dos\r\n\r\nbody\r\n",
        ]
    # One stored object serves both recipients.
    assert (
        store.list_messages("f@example.test")[0].object_key
        == store.list_messages("g@example.test")[0].object_key
    )


def test_deliver_from_stdin(store: Store) -> None:
    popdrop(store, "mailbox", "add", "h@example.test", "--password-stdin", stdin="pw\n")
    result = popdrop(store, "deliver", "--to", "h@example.test", "-", stdin=b"Subject: s\n\nb\n")
    assert result.returncode == 0, result.stderr
    (entry,) = store.list_messages("h@example.test")
    assert stored_object(store, entry.object_key) == b"Subject: s\r\n\r\nb\r\n"


def test_deliver_to_an_unknown_mailbox_stores_nothing(store: Store, tmp_path: Path) -> None:
    popdrop(store, "mailbox", "add", "i@example.test", "--password-stdin", stdin="pw\n")
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    result = popdrop(
        store, "deliver", "--to", "i@example.test", "--to", "nobody@example.test", str(message)
    )
    assert result.returncode == 2
    assert b"nobody@example.test" in result.stderr
    assert store.list_messages("i@example.test") == ()


def test_app_passwords_are_added_listed_used_and_revoked(store: Store) -> None:
    popdrop(store, "mailbox", "add", "j@example.test", "--password-stdin", stdin="pw\n")
    added = popdrop(store, "mailbox", "app-password", "add", "j@example.test", "phone")
    assert added.returncode == 0, added.stderr
    password = added.stdout.decode().strip().splitlines()[-1]
    mailbox = store.get_mailbox("j@example.test")
    assert mailbox is not None
    assert [entry.name for entry in mailbox.app_passwords] == ["phone"]
    assert password not in repr(mailbox)  # only a digest is stored

    store.record_app_password_use("j@example.test", "phone", 1_800_000_000, "198.51.100.7")
    listed = popdrop(store, "mailbox", "app-password", "list", "j@example.test")
    assert b"phone\tcreated" in listed.stdout
    assert b"198.51.100.7" in listed.stdout

    again = popdrop(store, "mailbox", "app-password", "add", "j@example.test", "phone")
    assert again.returncode == 2 and b"already has an app password" in again.stderr

    revoked = popdrop(store, "mailbox", "app-password", "revoke", "j@example.test", "phone")
    assert revoked.returncode == 0, revoked.stderr
    mailbox = store.get_mailbox("j@example.test")
    assert mailbox is not None and mailbox.app_passwords == ()
    missing = popdrop(store, "mailbox", "app-password", "revoke", "j@example.test", "phone")
    assert missing.returncode == 2


def test_an_invalid_app_password_name_is_a_usage_error(store: Store) -> None:
    popdrop(store, "mailbox", "add", "k@example.test", "--password-stdin", stdin="pw\n")
    result = popdrop(store, "mailbox", "app-password", "add", "k@example.test", "my phone!")
    assert result.returncode == 2
    assert b"invalid app password name" in result.stderr


def test_mailbox_apop_secret_sets_the_secret_apart_from_the_password(store: Store) -> None:
    popdrop(store, "mailbox", "add", "d@example.test", "--password-stdin", stdin="pw\n")
    result = popdrop(
        store, "mailbox", "apop-secret", "d@example.test", "--password-stdin", stdin="tanstaaf\n"
    )
    assert result.returncode == 0, result.stderr
    credentials = store.credentials("d@example.test")
    assert credentials is not None and credentials.apop_secret == "tanstaaf"
    mailbox = store.get_mailbox("d@example.test")
    assert mailbox is not None and verify_password("pw", mailbox.password_hash)


def test_mailbox_apop_secret_for_an_unknown_mailbox_fails_cleanly(store: Store) -> None:
    result = popdrop(
        store, "mailbox", "apop-secret", "nobody@example.test", "--password-stdin", stdin="s\n"
    )
    assert result.returncode != 0
    assert b"Traceback" not in result.stderr


def test_without_a_region_the_cli_says_which_variable_to_set(moto: str, tmp_path: Path) -> None:
    """Issue 11: `export AWS_REGION=...` alone, as the old deployment guide said, left boto3
    without a region and `popdrop mailbox add` ended in a NoRegionError traceback."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"AWS_DEFAULT_REGION", "AWS_PROFILE"}
    }
    env |= {"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    result = subprocess.run(
        [sys.executable, "-m", "popd.cli", "mailbox", "list"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "popdrop: no AWS region is configured: set AWS_DEFAULT_REGION (and AWS_REGION) to the "
        "stack's region, or a region in your AWS profile"
    )


def test_an_address_with_an_invisible_character_is_refused_everywhere(store: Store) -> None:
    """Issue 15: a name holding a zero-width space was created, yet no login could name it."""
    result = popdrop(
        store, "mailbox", "add", "ali\u200bce@example.test", "--password-stdin", stdin="x\n"
    )
    assert result.returncode == 2
    assert "invisible character (U+200B)" in result.stderr.decode()
    assert store.list_mailboxes() == []


def test_a_password_no_pass_line_can_carry_is_refused_rfc2449_s4(store: Store) -> None:
    """Issue 15: a 300-character password was accepted though a PASS line holds 248 octets."""
    result = popdrop(
        store, "mailbox", "add", "e@example.test", "--password-stdin", stdin="p" * 249 + "\n"
    )
    assert result.returncode == 2
    assert "longer than 248 octets" in result.stderr.decode()
    assert store.get_mailbox("e@example.test") is None
