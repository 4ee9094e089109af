"""Password hashes: scrypt in a self-describing string, failing closed on bad stored data."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from popdrop.auth import passwords
from popdrop.auth.passwords import (
    DEFAULT_PARAMS,
    DUMMY_HASH,
    hash_password,
    verify_against_dummy,
    verify_password,
)

SALT = base64.b64encode(b"0123456789abcdef").decode().rstrip("=")
DIGEST = base64.b64encode(bytes(32)).decode().rstrip("=")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the cost arguments of every scrypt run (the password and salt left out)."""
    calls: list[dict[str, Any]] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def spy(password: bytes, **kwargs: Any) -> bytes:
        calls.append({k: v for k, v in kwargs.items() if k != "salt"})
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    return calls


def test_a_hashed_password_verifies() -> None:
    assert verify_password("correct horse", hash_password("correct horse"))


def test_a_wrong_password_does_not_verify() -> None:
    assert not verify_password("correct horsE", hash_password("correct horse"))


def test_the_same_password_gets_a_different_salt_and_hash_each_time() -> None:
    first, second = hash_password("secret"), hash_password("secret")
    assert first != second
    assert first.split("$")[3] != second.split("$")[3]


def test_the_hash_names_scrypt_and_its_parameters() -> None:
    algorithm, params, salt, digest = hash_password("secret").split("$")[1:]
    assert (algorithm, params) == ("scrypt", "ln=14,r=8,p=1")
    assert len(base64.b64decode(salt + "==")) == passwords.SALT_BYTES
    assert len(base64.b64decode(digest + "=")) == passwords.HASH_BYTES


def test_passwords_are_compared_as_utf8_bytes() -> None:
    stored = hash_password("pässwörd ✓")
    assert verify_password("pässwörd ✓", stored)
    assert not verify_password("passwort ✓", stored)
    assert not verify_password("pässwörd ✓".encode().decode("latin-1"), stored)


def test_a_password_that_is_not_valid_unicode_hashes_and_verifies_without_raising() -> None:
    assert verify_password("lone \udc80 surrogate", hash_password("lone \udc80 surrogate"))


def test_verification_uses_the_parameters_written_in_the_stored_hash(
    scrypt_calls: list[dict[str, Any]],
) -> None:
    salt = b"salt-of-16-bytes"
    digest = hashlib.scrypt(b"secret", salt=salt, n=2**10, r=4, p=2, dklen=24)
    stored = f"$scrypt$ln=10,r=4,p=2${b64(salt)}${b64(digest)}"

    assert verify_password("secret", stored)
    assert scrypt_calls[-1]["n"] == 2**10
    assert (scrypt_calls[-1]["r"], scrypt_calls[-1]["p"], scrypt_calls[-1]["dklen"]) == (4, 2, 24)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "secret",
        "$scrypt$",
        f"$argon2id$v=19,m=65536,t=3,p=4${SALT}${DIGEST}",
        f"$scrypt$ln=14,r=8${SALT}${DIGEST}",
        f"$scrypt$r=8,ln=14,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=14,r=8,p=1${SALT}",
        f"$scrypt$ln=14,r=8,p=1${SALT}${DIGEST}$",
        f" $scrypt$ln=14,r=8,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=0,r=8,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=014,r=8,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=-1,r=8,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=14,r=0,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=1e3,r=8,p=1${SALT}${DIGEST}",
        f"$scrypt$ln=14,r=8,p=1${SALT}===${DIGEST}",
        f"$scrypt$ln=14,r=8,p=1${SALT}$not*base64*at*all*here*x",
        f"$scrypt$ln=14,r=8,p=1${SALT}${DIGEST}A",  # 4k+1 characters: no base64 length
        f"$scrypt$ln=14,r=8,p=1$c2FsdA${DIGEST}",  # a 4-byte salt
        f"$scrypt$ln=14,r=8,p=1${SALT}${b64(bytes(8))}",  # an 8-byte hash
        f"$scrypt$ln=14,r=8,p=1${SALT}${DIGEST}".replace("$", "\n$"),
    ],
)
def test_a_malformed_stored_hash_fails_closed_without_raising(stored: str) -> None:
    assert verify_password("secret", stored) is False


@pytest.mark.parametrize(
    "params",
    [
        "ln=20,r=8,p=1",  # 128 MiB
        "ln=16,r=16,p=1",  # 128 MiB
        "ln=99,r=8,p=1",  # 2**99 blocks
        "ln=14,r=8,p=999",  # 16 MiB, but 999 passes
        "ln=1,r=999,p=999",  # small n, yet 128 MiB of blocks for the parallel lanes
    ],
)
def test_a_stored_hash_with_absurd_cost_is_rejected_before_any_work(
    params: str, scrypt_calls: list[dict[str, Any]]
) -> None:
    assert not verify_password("secret", f"$scrypt${params}${SALT}${DIGEST}")
    assert scrypt_calls == []


def test_the_dummy_hash_matches_no_password() -> None:
    assert verify_against_dummy("") is False
    assert verify_against_dummy("secret") is False
    assert not verify_password("", DUMMY_HASH)


def test_an_unknown_mailbox_costs_the_same_scrypt_work_as_a_wrong_password(
    scrypt_calls: list[dict[str, Any]],
) -> None:
    """No user enumeration (DESIGN: replies never reveal whether a mailbox exists)."""
    stored = hash_password("secret")
    scrypt_calls.clear()

    verify_password("guess", stored)
    verify_against_dummy("guess")

    wrong_password, unknown_mailbox = scrypt_calls
    assert wrong_password == unknown_mailbox
    assert wrong_password["n"] == 2**DEFAULT_PARAMS.ln
