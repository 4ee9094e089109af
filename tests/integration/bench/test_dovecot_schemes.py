"""bench/dovecot/instance.py (issue 17): the passwd-file entries of each password scheme are hashes
Dovecot itself verifies, so its logins pay the hash the bench says they pay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from dovecot.instance import DOVEADM, SCRYPT_MEMORY, hashed  # noqa: E402

PASSWORD = "a bench password"


def verify(entry: str, password: str) -> subprocess.CompletedProcess[str]:
    if not Path(DOVEADM).exists():
        pytest.fail(f"{DOVEADM} is missing: apt-get install dovecot-pop3d")
    return subprocess.run(
        [DOVEADM, "pw", "-t", entry, "-p", password], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("scheme", ["PLAIN", "ARGON2ID:2", "BLF-CRYPT:5", "SHA512-CRYPT:5000"])
def test_dovecot_verifies_each_scheme_and_refuses_a_wrong_password(scheme: str) -> None:
    entry = hashed(scheme, PASSWORD)
    assert entry.startswith("{" + scheme.partition(":")[0] + "}")
    assert verify(entry, PASSWORD).returncode == 0
    assert verify(entry, "not " + PASSWORD).returncode != 0


def test_argon2id_uses_popdrops_scrypt_memory_and_the_passes_asked_for() -> None:
    entry = hashed("ARGON2ID:7", PASSWORD)
    assert f"$m={SCRYPT_MEMORY // 1024},t=7,p=1$" in entry
