"""The state table (RFC 1939 §4-§6, RFC 2449 §5, RFC 2595 §4) as a test matrix: first with
command types alone, then through the session, every command in every state."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import pytest

from popdrop.pop3 import commands as c
from popdrop.pop3.actions import Action, LoginOutcome, Release
from popdrop.pop3.session import Session, SessionConfig, UnexpectedCallback
from popdrop.pop3.states import ALLOWED, REFUSALS, State
from tests.unit.pop3.transcript import Client, maildrop

AUTHORIZATION = {c.User, c.Pass, c.Quit, c.Capa, c.Stls, c.Auth}
TRANSACTION = {c.Stat, c.List, c.Uidl, c.Retr, c.Top, c.Dele, c.Rset, c.Noop, c.Quit, c.Capa}
ALL_COMMANDS: list[type[c.Command]] = list(get_args(c.Command))


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_authorization_accepts_user_pass_quit_capa_stls_rfc1939_s4(
    command: type[c.Command],
) -> None:
    assert (command in ALLOWED[State.AUTHORIZATION]) == (command in AUTHORIZATION)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_transaction_accepts_the_maildrop_commands_quit_and_capa_rfc1939_s5(
    command: type[c.Command],
) -> None:
    assert (command in ALLOWED[State.TRANSACTION]) == (command in TRANSACTION)


def test_commands_are_read_only_in_authorization_and_transaction() -> None:
    assert set(ALLOWED) == set(REFUSALS) == {State.AUTHORIZATION, State.TRANSACTION}


# One well-formed line per command; the message numbers exist in the test maildrop.
LINES = {
    c.User: "USER alice@example.test",
    c.Pass: "PASS secret",
    c.Stat: "STAT",
    c.List: "LIST 1",
    c.Uidl: "UIDL 1",
    c.Retr: "RETR 1",
    c.Top: "TOP 1 0",
    c.Dele: "DELE 1",
    c.Rset: "RSET",
    c.Noop: "NOOP",
    c.Quit: "QUIT",
    c.Capa: "CAPA",
    c.Stls: "STLS",
    c.Auth: "AUTH",
}
CONFIG = SessionConfig(plaintext_allowed=True, stls_available=True, sasl_mechanisms=("PLAIN",))


def test_every_command_has_a_matrix_line() -> None:
    assert set(LINES) == set(ALL_COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_each_command_before_login_is_run_or_refused_rfc1939_s4(command: type[c.Command]) -> None:
    client = Client(CONFIG)
    refused = client.say(LINES[command]) == b"-ERR Not logged in.\r\n"
    assert refused == (command not in AUTHORIZATION)
    if refused:
        assert client.session.state is State.AUTHORIZATION


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_each_command_after_login_is_run_or_refused_rfc1939_s5(command: type[c.Command]) -> None:
    client = Client(CONFIG).login()
    refused = client.say(LINES[command]) == b"-ERR Not allowed after login.\r\n"
    assert refused == (command not in TRANSACTION)
    if refused:
        assert client.session.state is State.TRANSACTION


# How to reach each state through the protocol: log in first?, then these lines.
PATHS: dict[State, tuple[bool, list[str]]] = {
    State.AUTHORIZATION: (False, []),
    # AUTH (not PASS) reaches it, so that both of its outcomes (sasl_challenge, login_result)
    # are awaited there.
    State.AUTHENTICATING: (False, ["AUTH PLAIN"]),
    State.SASL_RESPONSE: (False, ["AUTH PLAIN"]),
    State.STARTING_TLS: (False, ["STLS"]),
    State.TRANSACTION: (True, []),
    State.SENDING: (True, ["RETR 1"]),
    State.UPDATE: (True, ["QUIT"]),
    State.CLOSED: (False, ["QUIT"]),
}


def into(state: State) -> Session:
    client = Client(CONFIG)
    log_in, lines = PATHS[state]
    if log_in:
        client.login()
    for line in lines:
        client.send(line)
    if state is State.SASL_RESPONSE:
        client.session.sasl_challenge(b"")
    assert client.session.state is state
    return client.session


def test_every_state_is_reachable() -> None:
    assert set(PATHS) == set(State)


CALLBACKS: dict[str, tuple[State, Callable[[Session], list[Action]]]] = {
    "login_result": (State.AUTHENTICATING, lambda s: s.login_result(LoginOutcome.DENIED)),
    "sasl_challenge": (State.AUTHENTICATING, lambda s: s.sasl_challenge(b"")),
    "message_sent": (State.SENDING, lambda s: s.message_sent()),
    "storage_failed": (State.SENDING, lambda s: s.storage_failed()),
    "commit_result": (State.UPDATE, lambda s: s.commit_result(True)),
    "tls_started": (State.STARTING_TLS, lambda s: s.tls_started()),
}


@pytest.mark.parametrize("state", [s for s in State if s is not State.CLOSED])
@pytest.mark.parametrize("callback", CALLBACKS)
def test_an_outcome_is_accepted_only_while_it_is_awaited(state: State, callback: str) -> None:
    awaited_in, report = CALLBACKS[callback]
    session = into(state)
    if state is awaited_in:
        report(session)
    else:
        with pytest.raises(UnexpectedCallback, match=callback):
            report(session)


@pytest.mark.parametrize("callback", CALLBACKS)
def test_an_outcome_reported_after_the_session_closed_does_nothing(callback: str) -> None:
    assert CALLBACKS[callback][1](into(State.CLOSED)) == []


def test_a_maildrop_taken_for_a_closed_session_is_released_at_once() -> None:
    session = into(State.AUTHENTICATING)
    assert session.connection_lost() == []
    assert session.login_result(LoginOutcome.OK, maildrop(10)) == [Release("alice@example.test")]


@pytest.mark.parametrize(
    "state", [State.AUTHENTICATING, State.STARTING_TLS, State.SENDING, State.UPDATE, State.CLOSED]
)
def test_no_command_is_read_while_an_outcome_is_awaited_or_after_close(state: State) -> None:
    session = into(state)
    session.receive_data(b"NOOP\r\n")
    assert session.next_actions() is None
