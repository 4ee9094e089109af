"""AUTH (RFC 5034): the session frames SASL exchanges; the caller runs the mechanisms."""

from __future__ import annotations

import base64

from popdrop.pop3.actions import Close, LoginRefused, SaslStep
from popdrop.pop3.config import SASL_MAX_LINE, SessionConfig
from popdrop.pop3.states import State
from tests.unit.pop3.transcript import Client, snapshot, wire

MECHANISMS = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "OAUTHBEARER", "PLAIN", "LOGIN")
TLS = SessionConfig(tls_active=True, sasl_mechanisms=MECHANISMS)
PLAIN_TCP = SessionConfig(stls_available=True, sasl_mechanisms=MECHANISMS)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def capa(client: Client) -> list[bytes]:
    return client.say("CAPA").split(b"\r\n")


def test_auth_alone_lists_the_mechanisms_offered_here_rfc5034_s4() -> None:
    assert Client(TLS).say("AUTH") == (
        b"+OK Mechanisms follow.\r\nSCRAM-SHA-256-PLUS\r\nSCRAM-SHA-256\r\nOAUTHBEARER\r\n"
        b"PLAIN\r\nLOGIN\r\n.\r\n"
    )


def test_capa_offers_channel_binding_only_under_tls_and_passwords_only_where_allowed() -> None:
    assert b"SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 OAUTHBEARER PLAIN LOGIN" in capa(Client(TLS))
    # Without TLS (and no plaintext permission) only SCRAM, which sends no reusable secret.
    assert b"SASL SCRAM-SHA-256" in capa(Client(PLAIN_TCP))


def test_capa_lists_sasl_after_login_too_rfc2449_s5() -> None:
    assert b"SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 OAUTHBEARER PLAIN LOGIN" in capa(
        Client(TLS).login()
    )


def test_an_initial_response_starts_the_exchange_decoded_rfc5034_s4() -> None:
    client = Client(TLS)
    [step] = client.send("AUTH PLAIN " + b64(b"\0alice\0pw"))
    assert step == SaslStep("PLAIN", b"\0alice\0pw", first=True)
    assert client.session.state is State.SASL_STEP


def test_an_equals_sign_is_an_empty_initial_response_rfc5034_s4() -> None:
    [step] = Client(TLS).send("AUTH PLAIN =")
    assert step == SaslStep("PLAIN", b"", first=True)


def test_mechanism_names_are_case_insensitive() -> None:
    [step] = Client(TLS).send("auth plain")
    assert step == SaslStep("PLAIN", None, first=True)


def test_a_challenge_is_a_continuation_and_the_next_line_its_response_rfc5034_s4() -> None:
    client = Client(TLS)
    client.send("AUTH LOGIN")
    assert wire(client.session.sasl_challenge(b"Username:")) == b"+ VXNlcm5hbWU6\r\n"
    assert client.session.state is State.SASL_RESPONSE
    [step] = client.send(b64(b"alice"))
    assert step == SaslStep("LOGIN", b"alice", first=False)
    assert wire(client.session.sasl_challenge(b"")) == b"+ \r\n"
    [step] = client.send("")  # an empty response
    assert step == SaslStep("LOGIN", b"", first=False)
    assert wire(client.session.login_result(snapshot(5))) == b"+OK Logged in.\r\n"
    assert client.session.state is State.TRANSACTION


def test_a_star_cancels_the_exchange_rfc5034_s4() -> None:
    client = Client(TLS)
    client.send("AUTH LOGIN")
    client.session.sasl_challenge(b"Username:")
    assert client.say("*") == b"-ERR Authentication cancelled.\r\n"
    assert client.session.state is State.AUTHORIZATION
    assert client.say("CAPA").startswith(b"+OK")


def test_a_response_that_is_not_base64_aborts_the_exchange() -> None:
    client = Client(TLS)
    client.send("AUTH LOGIN")
    client.session.sasl_challenge(b"Username:")
    assert client.say("not base64!") == b"-ERR Invalid base64; authentication aborted.\r\n"
    assert client.session.state is State.AUTHORIZATION


def test_an_initial_response_that_is_not_base64_is_refused() -> None:
    assert Client(TLS).say("AUTH PLAIN ***") == b"-ERR Invalid base64 in the initial response.\r\n"


def test_responses_may_be_longer_than_a_command_line_but_are_bounded() -> None:
    """RFC 5034 bounds AUTH's own line at 255 octets; a bearer token in a response is longer."""
    token = b"t" * 4000
    client = Client(TLS)
    client.send("AUTH OAUTHBEARER")
    client.session.sasl_challenge(b"")
    [step] = client.send(b64(token))
    assert step == SaslStep("OAUTHBEARER", token, first=False)
    client.session.login_result(LoginRefused.DENIED)
    client.send("AUTH OAUTHBEARER")
    client.session.sasl_challenge(b"")
    assert client.say("A" * (SASL_MAX_LINE + 10)).startswith(b"-ERR Response too long")
    # Commands are back to the RFC 2449 limit afterwards.
    assert client.say("NOOP" + " " * 300) == b"-ERR Line too long.\r\n"


def test_an_unknown_mechanism_is_refused() -> None:
    reply = Client(TLS).say("AUTH GSSAPI")
    assert reply == b"-ERR Unsupported authentication mechanism.\r\n"


def test_a_password_mechanism_without_tls_points_to_stls() -> None:
    reply = Client(PLAIN_TCP).say("AUTH PLAIN " + b64(b"\0a\0b"))
    assert reply.startswith(b"-ERR [AUTH] Plaintext authentication disallowed")
    assert reply.endswith(b"use STLS first.\r\n")


def test_channel_binding_is_not_offered_without_tls_rfc5802_s6() -> None:
    reply = Client(PLAIN_TCP).say("AUTH SCRAM-SHA-256-PLUS")
    assert reply == b"-ERR Unsupported authentication mechanism.\r\n"


def test_a_connection_is_closed_after_too_many_failed_logins() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, max_auth_failures=2))
    client.say("USER alice@example.test")
    client.send("PASS wrong")
    assert wire(client.session.login_result(LoginRefused.DENIED)).startswith(b"-ERR [AUTH]")
    client.say("USER alice@example.test")
    client.send("PASS wrong again")
    actions = client.session.login_result(LoginRefused.DENIED)
    assert wire(actions) == b"-ERR [AUTH] Authentication failed; too many attempts.\r\n"
    assert isinstance(actions[-1], Close)


def test_an_auth_line_may_carry_a_long_initial_response_but_other_lines_may_not() -> None:
    """Clients such as mpop send a bearer token as the initial response, beyond 255 octets."""
    token = b"t" * 3000
    [step] = Client(TLS).send("AUTH OAUTHBEARER " + b64(token))
    assert step == SaslStep("OAUTHBEARER", token, first=True)
    assert Client(TLS).say("USER " + "a" * 400) == b"-ERR Line too long.\r\n"


def test_after_login_commands_are_back_to_255_octets_rfc2449_s4() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, sasl_mechanisms=MECHANISMS)).login()
    assert client.session.buffered == 0
    client.session.receive_data(b"A" * 1000)
    assert client.session.buffered <= 255
