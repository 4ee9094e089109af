"""SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677), derived when a password is set.

The server keeps the salt, the iteration count, StoredKey and ServerKey: enough to check a
client's proof and to prove itself, never enough to log in (not plaintext-equivalent).
"""

from __future__ import annotations

from typing import Final

from scramp import ScramMechanism

from popdrop.model import ScramKeys

MECHANISM: Final = "SCRAM-SHA-256"
# RFC 7677 §4 asks for at least 4096. The client runs PBKDF2 this many times per login (the server
# never does), so this buys offline resistance for a stolen verifier at the client's expense:
# ~20 ms on a phone.
ITERATIONS: Final = 50_000


def derive_keys(password: str, iterations: int = ITERATIONS) -> ScramKeys:
    salt, stored_key, server_key, count = ScramMechanism(MECHANISM).make_auth_info(
        password, iteration_count=iterations
    )
    return ScramKeys(salt=salt, iterations=count, stored_key=stored_key, server_key=server_key)
