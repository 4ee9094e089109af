"""The SCRAM verifiers of unknown names (issue 15): shaped like a mailbox's, a function of the
deployment's key and the normalised name only."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from popdrop.auth.scram import ITERATIONS, SALT_OCTETS, decoy_keys, decoy_name, derive_keys
from popdrop.settings import Settings

KEY = b"k" * 32


def test_a_decoy_has_a_real_verifiers_shape() -> None:
    real, decoy = derive_keys("a password"), decoy_keys(KEY, "nobody@example.test")
    assert len(decoy.salt) == len(real.salt) == SALT_OCTETS
    assert decoy.iterations == real.iterations == ITERATIONS
    assert len(decoy.stored_key) == len(real.stored_key)
    assert len(decoy.server_key) == len(real.server_key)


def test_a_decoy_depends_on_the_name_and_the_key_only() -> None:
    assert decoy_keys(KEY, "nobody@example.test") == decoy_keys(KEY, "nobody@example.test")
    assert decoy_keys(KEY, "nobody@example.test") != decoy_keys(KEY, "other@example.test")
    assert decoy_keys(KEY, "nobody@example.test") != decoy_keys(b"j" * 32, "nobody@example.test")


def test_spellings_of_a_name_that_is_no_address_share_one_decoy() -> None:
    assert decoy_name("NoBody") == decoy_name("nobody")
    assert decoy_name("e\u0301") == decoy_name("\u00e9")  # NFD and NFC


def test_a_short_decoy_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="POPDROP_DECOY_KEY"):
        Settings(decoy_key=SecretStr("too short"))
    assert Settings(decoy_key=SecretStr("x" * 32)).decoy_key.get_secret_value() == "x" * 32
