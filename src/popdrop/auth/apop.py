"""Shared-secret digests: APOP (RFC 1939 §7: MD5 over the greeting's timestamp followed by the
secret) and CRAM-MD5 (RFC 2195: HMAC-MD5 of a challenge keyed with the secret).

Both use one per-mailbox secret, and it is plaintext-equivalent: whoever reads it can log in.
That is their price, which is why popdrop keeps it apart from the scrypt password hash and offers
either mechanism only when an operator enables it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from typing import Final

# A secret no mailbox has, so an unknown mailbox costs the same work as a wrong digest.
_DUMMY_SECRET: Final = secrets.token_hex(16)


def apop_digest(timestamp: str, secret: str) -> str:
    """The digest a client sends: lower-case hex MD5 of timestamp + secret, as UTF-8."""
    data = (timestamp + secret).encode("utf-8", "surrogatepass")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def cram_md5_digest(challenge: str, secret: str) -> str:
    """RFC 2195 §2: lower-case hex HMAC-MD5 of the challenge, keyed with the secret."""
    key = secret.encode("utf-8", "surrogatepass")
    return hmac.new(key, challenge.encode("ascii"), hashlib.md5).hexdigest()


def verify_apop(timestamp: str, digest: str, secret: str | None) -> bool:
    """True if `digest` is right for `secret`; False, after the same work, when there is none."""
    expected = apop_digest(timestamp, _DUMMY_SECRET if secret is None else secret)
    return hmac.compare_digest(expected, digest) and secret is not None


def verify_cram_md5(challenge: str, digest: str, secret: str | None) -> bool:
    """Like `verify_apop`, for a CRAM-MD5 response."""
    expected = cram_md5_digest(challenge, _DUMMY_SECRET if secret is None else secret)
    return hmac.compare_digest(expected, digest) and secret is not None


def new_timestamp(hostname: str) -> str:
    """A fresh greeting timestamp, "<pid.random.clock@hostname>" (RFC 1939 §7): unique per
    connection and unpredictable, so a captured digest cannot be replayed in another session."""
    return f"<{os.getpid()}.{secrets.token_hex(8)}.{time.time_ns()}@{hostname}>"
