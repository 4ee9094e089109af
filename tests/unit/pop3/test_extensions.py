"""APOP (RFC 1939 §7), EXPIRE and LOGIN-DELAY (RFC 2449 §6.7, §6.8), response codes (RFC 2449 §8,
RFC 3206) and UTF8/LANG (RFC 6856 §2, §3), as session transcripts."""

from __future__ import annotations

import pytest

from popdrop.faces.faults import ObjectNotFound, StoreError
from popdrop.pop3.actions import AuthenticateApop, LoginRefused, Send
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.states import State
from tests.unit.pop3.transcript import MAILBOX, PLAINTEXT, Client

TIMESTAMP = "<1896.697170952@dbc.mtview.ca.us>"  # RFC 1939 §7's example
DIGEST = "c4c9334bac560ecc979e58001b3e22fb"
APOP = SessionConfig(apop_timestamp=TIMESTAMP)


def capabilities(client: Client) -> list[bytes]:
    reply = client.say("CAPA")
    assert reply.startswith(b"+OK") and reply.endswith(b"\r\n.\r\n")
    return reply.split(b"\r\n")[1:-2]


# APOP (RFC 1939 §7)


def test_the_greeting_carries_the_timestamp_when_apop_is_offered_rfc1939_s7() -> None:
    assert Client(APOP).greeting == f"+OK popdrop POP3 ready. {TIMESTAMP}\r\n".encode()


def test_without_apop_the_greeting_has_no_timestamp_rfc1939_s7() -> None:
    assert b"<" not in Client(PLAINTEXT).greeting


def test_apop_asks_the_caller_to_check_the_digest_over_the_greeting_timestamp_rfc1939_s7() -> None:
    client = Client(APOP)
    assert client.send(f"APOP {MAILBOX} {DIGEST.upper()}") == [
        AuthenticateApop(MAILBOX, TIMESTAMP, DIGEST)
    ]
    assert client.session.state is State.AUTHENTICATING


def test_apop_needs_no_tls_because_the_secret_never_crosses_the_wire_rfc1939_s7() -> None:
    assert SessionConfig(apop_timestamp=TIMESTAMP).plaintext_allowed is False
    assert isinstance(Client(APOP).send(f"APOP {MAILBOX} {DIGEST}")[0], AuthenticateApop)


def test_apop_is_refused_unless_the_operator_enabled_it_rfc1939_s7() -> None:
    assert Client(PLAINTEXT).say(f"APOP {MAILBOX} {DIGEST}") == b"-ERR APOP not available.\r\n"


def test_a_failed_apop_login_is_the_same_auth_error_as_a_failed_pass_rfc3206_s5() -> None:
    client = Client(APOP)
    client.send(f"APOP {MAILBOX} {DIGEST}")
    assert client.session.login_result(LoginRefused.DENIED) == [
        Send(b"-ERR [AUTH] Authentication failed.\r\n")
    ]
    assert client.session.state is State.AUTHORIZATION


@pytest.mark.parametrize("timestamp", ["1896.697@host", "<has space@x>", "<>", "<a<b@c>"])
def test_a_malformed_apop_timestamp_cannot_be_configured(timestamp: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        SessionConfig(apop_timestamp=timestamp)


# EXPIRE and LOGIN-DELAY (RFC 2449 §6.7, §6.8)


def test_expire_never_is_announced_in_both_states_rfc2449_s6_7() -> None:
    client = Client(PLAINTEXT)
    assert b"EXPIRE NEVER" in capabilities(client)
    assert b"EXPIRE NEVER" in capabilities(client.login())


def test_a_configured_retention_is_announced_in_days_rfc2449_s6_7() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, expire_days=30))
    assert b"EXPIRE 30" in capabilities(client)
    assert b"EXPIRE 30" in capabilities(client.login())


def test_login_delay_is_announced_in_both_states_when_set_rfc2449_s6_8() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, login_delay=900))
    assert b"LOGIN-DELAY 900" in capabilities(client)
    assert b"LOGIN-DELAY 900" in capabilities(client.login())


def test_login_delay_is_not_announced_when_zero_rfc2449_s6_8() -> None:
    assert not any(line.startswith(b"LOGIN-DELAY") for line in capabilities(Client(PLAINTEXT)))


def test_a_login_too_soon_is_refused_with_login_delay_rfc2449_s8_1_2() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, login_delay=900))
    client.say(f"USER {MAILBOX}")
    client.send("PASS secret")
    assert client.session.login_result(LoginRefused.LOGIN_DELAY) == [
        Send(b"-ERR [LOGIN-DELAY] Wait 900 seconds between logins.\r\n")
    ]
    assert client.session.state is State.AUTHORIZATION


# Response codes (RFC 2449 §8, RFC 3206)


def test_response_codes_are_announced_rfc2449_s6_4_rfc3206_s6() -> None:
    announced = capabilities(Client(PLAINTEXT))
    assert b"RESP-CODES" in announced and b"AUTH-RESP-CODE" in announced


def test_a_login_refused_by_a_permanent_fault_gets_sys_perm_rfc3206_s4() -> None:
    client = Client(PLAINTEXT)
    client.say(f"USER {MAILBOX}")
    client.send("PASS secret")
    assert client.session.login_result(StoreError("access denied")) == [
        Send(b"-ERR [SYS/PERM] Maildrop unavailable.\r\n")
    ]


def test_a_message_gone_for_good_gets_sys_perm_rfc3206_s4() -> None:
    client = Client(PLAINTEXT).login()
    client.send("RETR 1")
    assert client.session.storage_failed(ObjectNotFound("incoming/1")) == [
        Send(b"-ERR [SYS/PERM] Message unavailable.\r\n")
    ]
    assert client.say("NOOP") == b"+OK\r\n"


# UTF8 and LANG (RFC 6856 §2, §3)


def test_utf8_and_lang_are_announced_rfc6856_s2_s3() -> None:
    announced = capabilities(Client(PLAINTEXT))
    assert b"UTF8 USER" in announced and b"LANG" in announced


def test_utf8_enters_utf8_mode_once_rfc6856_s2() -> None:
    client = Client(PLAINTEXT)
    assert client.say("UTF8") == b"+OK UTF-8 mode enabled.\r\n"
    assert client.session.utf8
    assert client.say("UTF8") == b"-ERR Already in UTF-8 mode.\r\n"


def test_after_utf8_a_utf8_user_name_and_password_reach_the_caller_rfc6856_s2() -> None:
    client = Client(PLAINTEXT)
    client.say("UTF8")
    assert client.say("USER jos\u00e9@example.test") == b"+OK Send PASS.\r\n"
    [authenticate] = client.send("PASS m\u00f6tley cr\u00fce".encode())
    assert authenticate == type(authenticate)("jos\u00e9@example.test", "m\u00f6tley cr\u00fce")


def test_utf8_is_refused_after_login_rfc6856_s2() -> None:
    assert Client(PLAINTEXT).login().say("UTF8") == b"-ERR Not allowed after login.\r\n"


def test_lang_without_an_argument_lists_the_default_language_rfc6856_s3() -> None:
    expected = b"+OK Language listing follows.\r\nen English\r\n.\r\n"
    client = Client(PLAINTEXT)
    assert client.say("LANG") == expected
    assert client.login().say("LANG") == expected


@pytest.mark.parametrize("tag", ["en", "EN", "en-GB", "*"])
def test_lang_accepts_a_range_that_finds_english_rfc6856_s3_rfc4647_s3_4(tag: str) -> None:
    assert Client(PLAINTEXT).say(f"LANG {tag}") == b"+OK en Language is English.\r\n"


@pytest.mark.parametrize("tag", ["fr", "de-DE", "eng"])
def test_lang_refuses_a_language_it_does_not_have_rfc6856_s3(tag: str) -> None:
    assert Client(PLAINTEXT).say(f"LANG {tag}") == b"-ERR Invalid language.\r\n"
