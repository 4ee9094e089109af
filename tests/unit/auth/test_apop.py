"""APOP digests (RFC 1939 §7) and greeting timestamps."""

from __future__ import annotations

import re

from popdrop.auth.apop import (
    apop_digest,
    cram_md5_digest,
    new_timestamp,
    verify_apop,
    verify_cram_md5,
)

# RFC 1939 §7's example.
TIMESTAMP = "<1896.697170952@dbc.mtview.ca.us>"
DIGEST = "c4c9334bac560ecc979e58001b3e22fb"


def test_the_digest_is_md5_of_timestamp_and_secret_rfc1939_s7() -> None:
    assert apop_digest(TIMESTAMP, "tanstaaf") == DIGEST


def test_the_right_digest_verifies_rfc1939_s7() -> None:
    assert verify_apop(TIMESTAMP, DIGEST, "tanstaaf")


def test_a_wrong_secret_or_timestamp_fails() -> None:
    assert not verify_apop(TIMESTAMP, DIGEST, "tanstaaF")
    assert not verify_apop("<1896.697170953@dbc.mtview.ca.us>", DIGEST, "tanstaaf")


def test_no_secret_fails_even_for_the_digest_of_an_empty_secret() -> None:
    assert not verify_apop(TIMESTAMP, apop_digest(TIMESTAMP, ""), None)


def test_a_utf8_secret_is_hashed_as_utf8_rfc6856_s2() -> None:
    digest = apop_digest(TIMESTAMP, "gr\u00fc\u00df")
    assert verify_apop(TIMESTAMP, digest, "gr\u00fc\u00df")


def test_timestamps_are_msg_ids_and_never_repeat_rfc1939_s7() -> None:
    stamps = {new_timestamp("popdrop") for _ in range(100)}
    assert len(stamps) == 100
    assert all(re.fullmatch(r"<\d+\.[0-9a-f]{16}\.\d+@popdrop>", stamp) for stamp in stamps)


def test_the_cram_md5_digest_of_rfc2195_s2() -> None:
    challenge = "<1896.697170952@postoffice.reston.mci.net>"
    assert cram_md5_digest(challenge, "tanstaaftanstaaf") == "b913a602c7eda7a495b4e6e7334d3890"
    assert verify_cram_md5(challenge, "b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf")
    assert not verify_cram_md5(challenge, "b913a602c7eda7a495b4e6e7334d3890", None)
