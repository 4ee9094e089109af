"""Salted, slow password hashes: scrypt from the standard library, in a self-describing string.

A stored hash reads `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (PHC string format, base64 without
padding), so the parameters can be raised later without invalidating the hashes already stored:
each hash is verified with the parameters written in it.

Passwords are hashed as their UTF-8 bytes, exactly as given (no normalisation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt's cost parameters: n = 2**ln (CPU/memory), r (block size), p (parallelism)."""

    ln: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes scrypt allocates as OpenSSL counts them against `maxmem`: 128*r*(n + 2 + p)."""
        return 128 * self.r * ((1 << self.ln) + 2 + self.p)

    @property
    def work(self) -> int:
        """Proportional to the time one hash takes (hashlib runs the p lanes one after another)."""
        return self.r * self.p * (1 << self.ln)


# Sized for a small container (a 0.25 vCPU / 512 MiB popd task serving several logins at once):
# n=2**14, r=8, p=1 allocates 16 MiB and took about 30 ms on the 2-core development machine.
# OWASP's floor is 2**17 with r=8, p=1 (128 MiB) or an equivalent p=5 at 16 MiB: raise `p` here
# when logins can afford ~5x the CPU, since the memory stays the same.
DEFAULT_PARAMS: Final = ScryptParams(ln=14, r=8, p=1)
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32

# A stored string is data, and a corrupted or hostile item must not make one verification take
# minutes or gigabytes: anything beyond these bounds is treated as malformed.
MAX_MEMORY: Final = 64 * 1024 * 1024
MAX_WORK: Final = 16 * DEFAULT_PARAMS.work

_B64 = r"[A-Za-z0-9+/]"
_HASH_RE: Final = re.compile(
    rf"\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]{{0,2}}),p=([1-9][0-9]{{0,2}})"
    rf"\$({_B64}{{11,86}})\$({_B64}{{22,86}})"  # 8 to 64 bytes of salt, 16 to 64 bytes of hash
)


def hash_password(password: str) -> str:
    """Hash a password with a fresh random salt and the default parameters."""
    salt = os.urandom(SALT_BYTES)
    return _encode(DEFAULT_PARAMS, salt, _scrypt(password, salt, DEFAULT_PARAMS, HASH_BYTES))


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches the stored hash; False for a wrong password or a malformed hash.

    Never raises for bad stored data: a login must fail closed, not crash the session.
    """
    parsed = _decode(encoded)
    if parsed is None:
        return False
    params, salt, expected = parsed
    actual = _scrypt(password, salt, params, len(expected))
    return hmac.compare_digest(actual, expected)


def is_password_hash(encoded: str) -> bool:
    """True if `encoded` is a hash `verify_password` accepts (an operator importing hashes made by
    `hash_password` elsewhere): a malformed one would lock the mailbox out without a word."""
    return _decode(encoded) is not None


def verify_against_dummy(password: str) -> bool:
    """Spend the work of one verification and fail: the path for a mailbox that does not exist.

    An unknown address then costs the same time as a wrong password, so the timing of a failed
    login does not tell whether the mailbox exists.
    """
    verify_password(password, DUMMY_HASH)
    return False


def _scrypt(password: str, salt: bytes, params: ScryptParams, length: int) -> bytes:
    # surrogatepass: any str encodes (to UTF-8 for every valid one), so hashing never raises.
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=1 << params.ln,
        r=params.r,
        p=params.p,
        dklen=length,
        maxmem=params.memory,
    )


def _encode(params: ScryptParams, salt: bytes, digest: bytes) -> str:
    return f"$scrypt$ln={params.ln},r={params.r},p={params.p}${_b64(salt)}${_b64(digest)}"


def _decode(encoded: str) -> tuple[ScryptParams, bytes, bytes] | None:
    match = _HASH_RE.fullmatch(encoded)
    if match is None:
        return None
    ln, r, p, salt_text, digest_text = match.groups()
    params = ScryptParams(ln=int(ln), r=int(r), p=int(p))
    if params.memory > MAX_MEMORY or params.work > MAX_WORK:
        return None
    try:
        return params, _unb64(salt_text), _unb64(digest_text)
    except binascii.Error:  # a length that no base64 encoding produces
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


# Verifying against this costs exactly what verifying a real default hash costs. Its digest is
# random bytes that no password produces, and building it needs no scrypt run at import time.
DUMMY_HASH: Final = _encode(DEFAULT_PARAMS, os.urandom(SALT_BYTES), os.urandom(HASH_BYTES))
