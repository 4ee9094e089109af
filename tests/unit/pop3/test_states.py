"""The transition table (RFC 1939 §4-§7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4, RFC 6856 §2-§3,
and POP4's commands, docs/pop4.md) as a test matrix: first every (state, event) pair with the
table alone, as h11 tests its own; then through the session, every command in every state, with
the POP4 extension on and off, and every report in every state."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import get_args

import pytest

from popdrop.faces.faults import StorageUnavailable
from popdrop.folders import Folder, FolderListing, empty_listing
from popdrop.mime.ranges import MimePart, MimeStructure
from popdrop.model import FolderId
from popdrop.pop3 import commands as c
from popdrop.pop3 import session as session_module
from popdrop.pop3.actions import (
    Action,
    ListFolders,
    LoginRefused,
    OpenFolder,
    ReadStructure,
    Release,
)
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.session import Session
from popdrop.pop3.states import (
    REFUSALS,
    TRANSITIONS,
    Event,
    NotAccepted,
    State,
    Trigger,
    UnexpectedCallback,
    next_state,
)
from tests.unit.pop3.transcript import MAILBOX, Client, snapshot, wire

A, T, CLOSED = State.AUTHORIZATION, State.TRANSACTION, State.CLOSED
ALL_COMMANDS: list[type[c.Command]] = list(get_args(c.Command))
AUTHORIZATION_COMMANDS = {c.User, c.Pass, c.Apop, c.Quit, c.Capa, c.Stls, c.Auth, c.Utf8, c.Lang}
POP4_COMMANDS = {
    c.Lfld, c.Sfld, c.Cfld, c.Dfld, c.Renf, c.Movf, c.Move, c.Copy, c.Mime, c.Part,
}  # fmt: skip
TRANSACTION_COMMANDS = {
    c.Stat, c.List, c.Uidl, c.Retr, c.Top, c.Dele, c.Rset, c.Noop, c.Quit, c.Capa, c.Lang,
    *POP4_COMMANDS,
}  # fmt: skip
ENDS = {Event.TIMEOUT: CLOSED, Event.CONNECTION_LOST: CLOSED}

# The documented table (docs/architecture.md), written out again here so that a change to the
# code's table fails this test until the documentation's is changed with it.
DOCUMENTED: dict[State, dict[Trigger, State]] = {
    A: {
        **dict.fromkeys([c.User, c.Capa, c.Utf8, c.Lang], A),
        c.Pass: State.AUTHENTICATING,
        c.Apop: State.AUTHENTICATING,
        c.Auth: State.SASL_STEP,
        c.Stls: State.STARTING_TLS,
        c.Quit: CLOSED,
        Event.GIVE_UP: CLOSED,
        **ENDS,
    },
    State.AUTHENTICATING: {Event.LOGIN_OK: T, Event.LOGIN_FAILED: A, **ENDS},
    State.SASL_STEP: {
        Event.LOGIN_OK: T,
        Event.LOGIN_FAILED: A,
        Event.SASL_CHALLENGE: State.SASL_RESPONSE,
        **ENDS,
    },
    State.SASL_RESPONSE: {Event.SASL_RESPONSE: State.SASL_STEP, Event.SASL_CANCEL: A, **ENDS},
    State.STARTING_TLS: {Event.TLS_STARTED: A, **ENDS},
    T: {
        **dict.fromkeys([c.Stat, c.List, c.Uidl, c.Dele, c.Rset, c.Noop, c.Capa, c.Lang], T),
        **dict.fromkeys([c.Lfld, c.Sfld, c.Cfld, c.Dfld, c.Renf, c.Movf, c.Move, c.Copy], T),
        c.Mime: T,
        c.Retr: State.SENDING,
        c.Top: State.SENDING,
        c.Part: State.SENDING,
        c.Quit: State.UPDATE,
        Event.LOAD: State.LOADING,
        Event.GIVE_UP: CLOSED,
        **ENDS,
    },
    State.SENDING: {Event.MESSAGE_SENT: T, Event.STORAGE_FAILED: T, **ENDS},
    State.LOADING: {Event.LOADED: T, **ENDS},
    State.UPDATE: {Event.COMMITTED: CLOSED, **ENDS},
    CLOSED: {event: CLOSED for event in Event if event.reported},
}
TRIGGERS: list[Trigger] = [*ALL_COMMANDS, *Event]


def _name(trigger: Trigger) -> str:
    return trigger.name if isinstance(trigger, Event) else trigger.__name__.upper()


def test_the_code_and_the_documented_table_have_the_same_states() -> None:
    assert set(TRANSITIONS) == set(DOCUMENTED) == set(State)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("trigger", TRIGGERS, ids=_name)
def test_every_state_and_event_pair_moves_as_documented_or_is_refused(
    state: State, trigger: Trigger
) -> None:
    """Allowed pairs lead to the documented state; a client's or the session's own event that the
    state does not accept is refused; a report the state does not await is the caller's bug."""
    expected = DOCUMENTED[state].get(trigger)
    if expected is not None:
        assert next_state(state, trigger) is expected
    elif isinstance(trigger, Event) and trigger.reported:
        with pytest.raises(UnexpectedCallback, match=trigger.name):
            next_state(state, trigger)
    else:
        with pytest.raises(NotAccepted):
            next_state(state, trigger)


def test_commands_are_read_only_in_authorization_and_transaction() -> None:
    assert set(REFUSALS) == {A, T}
    for state, row in TRANSITIONS.items():
        reads_commands = any(not isinstance(trigger, Event) for trigger in row)
        assert reads_commands == (state in REFUSALS), state


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_authorization_reads_login_quit_capa_stls_auth_utf8_lang_rfc1939_s4_rfc6856(
    command: type[c.Command],
) -> None:
    assert (command in TRANSITIONS[A]) == (command in AUTHORIZATION_COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_transaction_reads_the_maildrop_commands_quit_capa_lang_and_pop4s_rfc1939_s5_rfc6856_s3(
    command: type[c.Command],
) -> None:
    assert (command in TRANSITIONS[T]) == (command in TRANSACTION_COMMANDS)


def test_the_session_changes_state_only_through_the_table() -> None:
    """Every assignment to the session's state is the table's answer (`next_state`), except the
    initial AUTHORIZATION: no state change is written anywhere else."""
    tree = ast.parse(inspect.getsource(session_module))
    assignments = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute) and target.attr == "_state"
    ]
    initial = [a for a in assignments if ast.unparse(a.value) == "State.AUTHORIZATION"]
    through_table = [
        a
        for a in assignments
        if isinstance(a.value, ast.Call) and ast.unparse(a.value.func) == "next_state"
    ]
    assert len(initial) == 1
    assert len(initial) + len(through_table) == len(assignments)


# Through the session: one well-formed line per command; the message numbers exist.
LINES = {
    c.User: "USER alice@example.test",
    c.Pass: "PASS secret",
    c.Apop: "APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb",
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
    c.Utf8: "UTF8",
    c.Lang: "LANG",
    c.Auth: "AUTH PLAIN",
    c.Lfld: "LFLD",
    c.Sfld: "SFLD news",
    c.Cfld: "CFLD lists",
    c.Dfld: "DFLD news",
    c.Renf: "RENF news old-news",
    c.Movf: "MOVF news /",
    c.Move: "MOVE 1 news",
    c.Copy: "COPY 1 news",
    c.Mime: "MIME 1",
    c.Part: "PART 1 1",
}
CONFIG = SessionConfig(
    plaintext_allowed=True,
    stls_available=True,
    sasl_mechanisms=("PLAIN",),
    apop_timestamp="<1896.697170952@dbc.mtview.ca.us>",
    pop4=True,
)
WITHOUT_POP4 = replace(CONFIG, pop4=False)
NEWS = FolderListing(
    empty_listing().inbox, empty_listing().quarantine, (Folder(FolderId("f1"), "news"),), 1
)
STRUCTURE = MimeStructure((MimePart("1", "text/plain", 40, 100),))


def answer_reads(client: Client, actions: list[Action]) -> list[Action]:
    """Report what each read the session asks for finds (one folder, "news", empty; message 1 a
    single text part), until it stops asking; the last actions."""
    while client.session.state is State.LOADING:
        match actions[-1]:
            case ListFolders():
                actions = client.session.loaded(NEWS)
            case OpenFolder():
                actions = client.session.loaded(())
            case ReadStructure():
                actions = client.session.loaded(STRUCTURE)
    return actions


def test_every_command_has_a_matrix_line() -> None:
    assert set(LINES) == set(ALL_COMMANDS)


@pytest.mark.parametrize("state", [A, T], ids=lambda s: s.value)
@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda t: t.__name__.upper())
def test_each_command_is_carried_out_into_the_tables_state_or_refused_rfc1939_s4_s5(
    state: State, command: type[c.Command]
) -> None:
    """With POP4 on: a command the row lacks gets the state's refusal and changes nothing; one it
    has leads where the table says, after the reads it needs (USER is run here without a
    following PASS, so PASS is refused)."""
    client = Client(CONFIG)
    if state is T:
        client.login()
    reply = wire(answer_reads(client, client.send(LINES[command])))
    if command not in TRANSITIONS[state]:
        assert reply == f"-ERR {REFUSALS[state]}\r\n".encode()
        assert client.session.state is state
    elif command is c.Pass:
        assert reply == b"-ERR Send USER first.\r\n" and client.session.state is state
    else:
        assert client.session.state is TRANSITIONS[state][command]
        assert command not in POP4_COMMANDS or reply.startswith(b"+OK"), reply


@pytest.mark.parametrize("state", [A, T], ids=lambda s: s.value)
@pytest.mark.parametrize("command", sorted(POP4_COMMANDS, key=lambda t: t.__name__))
def test_without_pop4_its_commands_are_unknown_in_every_state(
    state: State, command: type[c.Command]
) -> None:
    """docs/pop4.md: with the extension off nothing of it is visible: each of its verbs is as
    unknown as a made-up one, before and after login."""
    client = Client(WITHOUT_POP4)
    if state is T:
        client.login()
    assert client.say(LINES[command]) == b"-ERR Unknown command.\r\n"
    assert client.session.state is state


# How to reach each state through the protocol: log in first?, then these lines.
PATHS: dict[State, tuple[bool, list[str]]] = {
    A: (False, []),
    State.AUTHENTICATING: (False, ["USER alice@example.test", "PASS secret"]),
    State.SASL_STEP: (False, ["AUTH PLAIN"]),
    State.SASL_RESPONSE: (False, ["AUTH PLAIN"]),
    State.STARTING_TLS: (False, ["STLS"]),
    T: (True, []),
    State.SENDING: (True, ["RETR 1"]),
    State.LOADING: (True, ["LFLD"]),
    State.UPDATE: (True, ["QUIT"]),
    CLOSED: (False, ["QUIT"]),
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


REPORTS: dict[Event, Callable[[Session], list[Action]]] = {
    Event.LOGIN_OK: lambda s: s.login_result(snapshot(1)),
    Event.LOGIN_FAILED: lambda s: s.login_result(LoginRefused.DENIED),
    Event.SASL_CHALLENGE: lambda s: s.sasl_challenge(b""),
    Event.MESSAGE_SENT: lambda s: s.message_sent(),
    Event.STORAGE_FAILED: lambda s: s.storage_failed(StorageUnavailable("throttled")),
    Event.COMMITTED: lambda s: s.commit_result(),
    Event.LOADED: lambda s: s.loaded(StorageUnavailable("throttled")),
    Event.TLS_STARTED: lambda s: s.tls_started(),
    Event.TIMEOUT: lambda s: s.timed_out(),
    Event.CONNECTION_LOST: lambda s: s.connection_lost(),
}


def test_every_report_has_a_callback() -> None:
    assert set(REPORTS) == {event for event in Event if event.reported}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("event", list(REPORTS), ids=lambda e: e.name)
def test_a_report_is_accepted_only_where_the_table_awaits_it(state: State, event: Event) -> None:
    session = into(state)
    expected = TRANSITIONS[state].get(event)
    if expected is None:
        with pytest.raises(UnexpectedCallback, match=event.name):
            REPORTS[event](session)
        assert session.state is state
    else:
        REPORTS[event](session)
        assert session.state is expected


@pytest.mark.parametrize("event", list(REPORTS), ids=lambda e: e.name)
def test_a_report_after_the_session_closed_does_nothing(event: Event) -> None:
    session = into(CLOSED)
    actions = REPORTS[event](session)
    assert actions == ([Release(MAILBOX)] if event is Event.LOGIN_OK else [])
    assert session.closed


def test_a_maildrop_taken_for_a_closed_session_is_released_at_once() -> None:
    session = into(State.AUTHENTICATING)
    assert session.connection_lost() == []
    assert session.login_result(snapshot(10)) == [Release(MAILBOX)]


@pytest.mark.parametrize(
    "state",
    [
        State.AUTHENTICATING,
        State.SASL_STEP,
        State.STARTING_TLS,
        State.SENDING,
        State.UPDATE,
        CLOSED,
    ],
)
def test_no_command_is_read_while_an_outcome_is_awaited_or_after_close(state: State) -> None:
    session = into(state)
    session.receive_data(b"NOOP\r\n")
    assert session.next_actions() is None
