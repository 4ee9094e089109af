"""SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677), derived when a password is set.

The server keeps the salt, the iteration count, StoredKey and ServerKey: enough to check a
client's proof and to prove itself, never enough to log in (not plaintext-equivalent).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from typing import Final

from scramp import ScramMechanism

from popdrop.model import ScramKeys

MECHANISM: Final = "SCRAM-SHA-256"
# RFC 7677 §4 asks for at least 4096. The client runs PBKDF2 this many times per login (the server
# never does), so this buys offline resistance for a stolen verifier at the client's expense:
# ~20 ms on a phone.
ITERATIONS: Final = 50_000
# Every verifier's salt has this length (scramp's own default), and so has every decoy's: the
# server-first message must not tell a mailbox from an unknown name by the salt's size.
SALT_OCTETS: Final = 32


def derive_keys(password: str, iterations: int = ITERATIONS) -> ScramKeys:
    salt, stored_key, server_key, count = ScramMechanism(MECHANISM).make_auth_info(
        password, iteration_count=iterations, salt=secrets.token_bytes(SALT_OCTETS)
    )
    return ScramKeys(salt=salt, iterations=count, stored_key=stored_key, server_key=server_key)


def decoy_keys(key: bytes, name: str) -> ScramKeys:
    """The verifier an exchange for `name` runs on when no mailbox has one: shaped like a real
    verifier (SALT_OCTETS of salt, ITERATIONS), a function of the deployment's `key` and the name
    alone, so every replica, before and after a restart, answers a name with the same salt, as it
    would for a mailbox. `name` is the normalised address (or the case-folded name when it is
    none), so spellings of one name share one salt."""

    def derive(label: bytes) -> bytes:
        message = label + b"\0" + name.encode("utf-8", "surrogateescape")
        return hmac.new(key, message, hashlib.sha256).digest()

    return ScramKeys(
        salt=derive(b"salt")[:SALT_OCTETS],
        iterations=ITERATIONS,
        stored_key=derive(b"stored-key"),
        server_key=derive(b"server-key"),
    )


def decoy_name(username: str) -> str:
    """The key of a name no address normalises from: NFC and case-folded, so spellings agree."""
    return unicodedata.normalize("NFC", username).casefold()
