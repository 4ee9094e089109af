"""Session transcripts: client line -> server reply (RFC 1939, 2449, 2595, 3206)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from popdrop.faces.faults import StorageUnavailable, StoreError
from popdrop.model import Snapshot
from popdrop.pop3.actions import (
    Authenticate,
    Close,
    Commit,
    LoginRefused,
    LoginResult,
    Release,
    Send,
    SendMessage,
    StartTLS,
)
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.session import Session
from popdrop.pop3.states import State
from tests.unit.pop3.transcript import MAILBOX, PLAINTEXT, Client, entry, snapshot, wire

OK_CAPA = b"+OK Capability list follows.\r\n"
BASE_CAPA = (
    b"TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
    b"UTF8 USER\r\nLANG\r\n"
)
IMPLEMENTATION = b"IMPLEMENTATION popdrop\r\n.\r\n"
PLAINTEXT_REFUSED = (
    b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connections;"
    b" use STLS first.\r\n"
)


# Greeting and login (RFC 1939 §4, §7; RFC 3206 §5; RFC 2449 §8.1.1)


def test_the_greeting_names_the_host_rfc1939_s4() -> None:
    assert Client(SessionConfig(hostname="pop.example.test")).greeting == (
        b"+OK pop.example.test POP3 ready.\r\n"
    )


def test_user_is_accepted_for_any_name_so_mailboxes_cannot_be_enumerated_rfc1939_s7() -> None:
    assert Client().say("USER nobody@nowhere.test") == b"+OK Send PASS.\r\n"


def test_pass_without_user_is_refused_rfc1939_s7() -> None:
    assert Client().say("PASS secret") == b"-ERR Send USER first.\r\n"


def test_pass_asks_the_caller_to_authenticate_with_the_whole_password_rfc1939_s7() -> None:
    client = Client()
    client.say(f"USER {MAILBOX}")
    assert client.send("PASS  two words ") == [Authenticate(MAILBOX, " two words ")]
    assert client.session.state is State.AUTHENTICATING


def test_a_successful_login_enters_transaction_with_messages_numbered_from_1_rfc1939_s5() -> None:
    client = Client().login(snapshot(120, 200))
    assert client.session.state is State.TRANSACTION
    assert client.say("LIST") == b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"


def failed_login(outcome: LoginResult) -> tuple[Client, bytes]:
    client = Client()
    client.say(f"USER {MAILBOX}")
    client.send("PASS wrong")
    return client, wire(client.session.login_result(outcome))


@pytest.mark.parametrize(
    ("outcome", "reply"),
    [
        (LoginRefused.DENIED, b"-ERR [AUTH] Authentication failed.\r\n"),
        (LoginRefused.IN_USE, b"-ERR [IN-USE] Maildrop is in use.\r\n"),
        (StorageUnavailable("throttled"), b"-ERR [SYS/TEMP] Try again later.\r\n"),
        (StoreError("access denied"), b"-ERR [SYS/PERM] Maildrop unavailable.\r\n"),
    ],
)
def test_a_failed_login_returns_to_authorization_rfc1939_s4_rfc3206(
    outcome: LoginResult, reply: bytes
) -> None:
    client, got = failed_login(outcome)
    assert got == reply
    assert client.session.state is State.AUTHORIZATION


def test_a_failed_login_forgets_the_user_name_rfc1939_s7() -> None:
    client, _ = failed_login(LoginRefused.DENIED)
    assert client.say("PASS again") == b"-ERR Send USER first.\r\n"


def test_a_failed_login_can_be_followed_by_a_successful_one_rfc1939_s4() -> None:
    client, _ = failed_login(LoginRefused.DENIED)
    client.login()
    assert client.session.state is State.TRANSACTION


# Plaintext policy (DESIGN "Security defaults"; RFC 2595 §4; RFC 3206 §5)


@pytest.mark.parametrize("line", ["USER alice@example.test", "PASS secret"])
def test_user_and_pass_are_refused_on_a_plain_connection_rfc2595_s4(line: str) -> None:
    client = Client(SessionConfig(stls_available=True))
    assert client.say(line) == PLAINTEXT_REFUSED


def test_the_refusal_suggests_stls_only_where_it_is_offered() -> None:
    assert Client(SessionConfig()).say("USER alice@example.test") == (
        b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connections.\r\n"
    )


def test_user_is_accepted_under_implicit_tls_rfc8314() -> None:
    assert Client(SessionConfig(tls_active=True)).say("USER a@b.test") == b"+OK Send PASS.\r\n"


# CAPA (RFC 2449 §5)


def test_capa_before_login_on_a_plain_connection_offers_stls_not_user_rfc2449_s5() -> None:
    assert Client(SessionConfig(stls_available=True)).say("CAPA") == (
        OK_CAPA + BASE_CAPA + b"STLS\r\n" + IMPLEMENTATION
    )


def test_capa_offers_user_where_plaintext_login_is_allowed_rfc2449_s5() -> None:
    assert Client(PLAINTEXT).say("CAPA") == OK_CAPA + BASE_CAPA + b"USER\r\n" + IMPLEMENTATION


def test_capa_after_login_announces_what_authorization_offers_stls_included_rfc2449_s5() -> None:
    """RFC 2449 §5: "Capabilities available in the AUTHORIZATION state MUST be announced in both
    states", STLS among them, though STLS itself is refused after login (RFC 2595 §4)."""
    config = SessionConfig(stls_available=True, plaintext_allowed=True, sasl_mechanisms=("PLAIN",))
    client = Client(config)
    before = client.say("CAPA")
    assert before == OK_CAPA + BASE_CAPA + b"USER\r\nSASL PLAIN\r\nSTLS\r\n" + IMPLEMENTATION
    assert client.login().say("CAPA") == before
    assert client.say("STLS") == b"-ERR Not allowed after login.\r\n"


# STLS (RFC 2595 §4)


def stls_client() -> Client:
    return Client(SessionConfig(stls_available=True))


def test_stls_asks_the_caller_to_start_tls_rfc2595_s4() -> None:
    client = stls_client()
    assert client.send("STLS") == [Send(b"+OK Begin TLS negotiation.\r\n"), StartTLS()]
    assert client.session.state is State.STARTING_TLS


def test_stls_discards_everything_pipelined_after_it_cve_2011_0411() -> None:
    session = stls_client().session
    session.receive_data(b"STLS\r\nUSER evil@example.test\r\nPASS injected\r\n")
    assert session.next_actions() == [Send(b"+OK Begin TLS negotiation.\r\n"), StartTLS()]
    session.receive_data(b"CAPA\r\n")  # still plaintext: the handshake has not happened
    assert session.next_actions() is None
    assert session.tls_started() == []  # RFC 2595 §4: no new greeting
    assert session.buffered == 0
    assert session.next_actions() is None
    session.receive_data(b"PASS x\r\n")
    assert wire(session.next_actions() or []) == b"-ERR Send USER first.\r\n"


def test_after_stls_capa_offers_user_and_no_stls_rfc2595_s4() -> None:
    client = stls_client()
    client.send("STLS")
    client.session.tls_started()
    assert client.session.tls_active
    assert client.say("CAPA") == OK_CAPA + BASE_CAPA + b"USER\r\n" + IMPLEMENTATION
    assert client.say("USER alice@example.test") == b"+OK Send PASS.\r\n"


def test_stls_forgets_a_user_name_sent_in_plaintext_rfc2595_s4() -> None:
    client = Client(SessionConfig(stls_available=True, plaintext_allowed=True))
    client.say("USER alice@example.test")
    client.send("STLS")
    client.session.tls_started()
    assert client.say("PASS secret") == b"-ERR Send USER first.\r\n"


def test_stls_under_tls_is_refused_rfc2595_s4() -> None:
    client = Client(SessionConfig(tls_active=True, stls_available=True))
    assert client.say("STLS") == b"-ERR Command not permitted when TLS active.\r\n"


def test_stls_without_a_certificate_is_refused_rfc2595_s4() -> None:
    assert Client(SessionConfig()).say("STLS") == b"-ERR STLS not available.\r\n"


# The maildrop (RFC 1939 §5, §7)


def test_stat_is_count_space_octets_exactly_rfc1939_s5() -> None:
    assert Client().login(snapshot(120, 200)).say("STAT") == b"+OK 2 320\r\n"


def test_stat_of_an_empty_maildrop_rfc1939_s5() -> None:
    assert Client().login(snapshot()).say("STAT") == b"+OK 0 0\r\n"


def test_list_one_message_rfc1939_s5() -> None:
    assert Client().login(snapshot(120, 200)).say("LIST 2") == b"+OK 2 200\r\n"


def test_list_of_a_message_that_does_not_exist_rfc1939_s5() -> None:
    assert Client().login(snapshot(120, 200)).say("LIST 3") == b"-ERR No such message.\r\n"


def test_uidl_lists_unique_ids_rfc1939_s7() -> None:
    client = Client().login(snapshot(120, 200))
    assert client.say("UIDL") == b"+OK Unique-ID listing follows.\r\n1 uid-1\r\n2 uid-2\r\n.\r\n"
    assert client.say("UIDL 2") == b"+OK 2 uid-2\r\n"


def test_a_unique_id_that_begins_with_a_dot_is_sent_as_it_is_rfc1939_s3_s7() -> None:
    """A UIDL line begins with the message number, so no line of it is dot-stuffed (RFC 1939 §3),
    whatever the unique id (0x21-0x7E, RFC 1939 §7)."""
    dotted = replace(entry(1), uid=".hidden")
    client = Client().login(Snapshot(MAILBOX, (dotted, entry(2))))
    assert client.say("UIDL") == b"+OK Unique-ID listing follows.\r\n1 .hidden\r\n2 uid-2\r\n.\r\n"
    assert client.say("LIST") == b"+OK 2 messages (200 octets)\r\n1 100\r\n2 100\r\n.\r\n"


def test_retr_streams_the_message_after_its_size_rfc1939_s5() -> None:
    client = Client().login(snapshot(120, 200))
    assert client.send("RETR 2") == [SendMessage(2, entry(2, 200), b"+OK 200 octets\r\n")]
    assert client.session.state is State.SENDING
    assert client.session.message_sent() == []
    assert client.say("NOOP") == b"+OK\r\n"


def test_top_streams_headers_and_n_body_lines_rfc1939_s7() -> None:
    client = Client().login(snapshot(120, 200))
    assert client.send("TOP 1 5") == [
        SendMessage(1, entry(1, 120), b"+OK Top of message.\r\n", top_lines=5)
    ]


def test_a_message_that_cannot_be_read_gets_sys_temp_rfc3206_s4() -> None:
    client = Client().login()
    client.send("RETR 1")
    assert client.session.storage_failed(StorageUnavailable("throttled")) == [
        Send(b"-ERR [SYS/TEMP] Message unavailable; try again later.\r\n")
    ]
    assert client.say("NOOP") == b"+OK\r\n"


def test_commands_pipelined_behind_retr_wait_for_the_message_rfc2449_s6_6() -> None:
    session = Client().login().session
    session.receive_data(b"RETR 1\r\nSTAT\r\n")
    [send] = session.next_actions() or []
    assert isinstance(send, SendMessage)
    assert session.next_actions() is None
    session.message_sent()
    assert session.next_actions() == [Send(b"+OK 3 600\r\n")]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("RETR", b"-ERR Missing message number.\r\n"),
        ("RETR 0", b"-ERR Message number must be at least 1.\r\n"),
        ("RETR -1", b"-ERR Message number must not be negative.\r\n"),
        ("RETR x", b"-ERR Message number is not a number.\r\n"),
        ("RETR 99999999999", b"-ERR Message number is too large.\r\n"),
        ("RETR 1 2", b"-ERR Too many arguments.\r\n"),
        ("RETR 4", b"-ERR No such message.\r\n"),
        ("TOP 1", b"-ERR Missing line count.\r\n"),
        ("TOP 1 -1", b"-ERR Line count must not be negative.\r\n"),
        ("TOP 4 0", b"-ERR No such message.\r\n"),
        ("DELE 0", b"-ERR Message number must be at least 1.\r\n"),
        ("LIST 1 2", b"-ERR Too many arguments.\r\n"),
        ("UIDL 2147483648", b"-ERR Message number is too large.\r\n"),
        ("STAT 1", b"-ERR Too many arguments.\r\n"),
    ],
)
def test_bad_arguments_get_a_specific_error(line: str, reply: bytes) -> None:
    client = Client().login()
    assert client.say(line) == reply
    assert client.session.state is State.TRANSACTION


# Deletion (RFC 1939 §5 DELE, RSET; §6 UPDATE)


def test_dele_marks_a_message_rfc1939_s5() -> None:
    assert Client().login().say("DELE 2") == b"+OK Message 2 deleted.\r\n"


@pytest.mark.parametrize("line", ["LIST 2", "UIDL 2", "RETR 2", "TOP 2 0", "DELE 2"])
def test_a_deleted_message_is_invisible_rfc1939_s5(line: str) -> None:
    client = Client().login(snapshot(100, 200, 300))
    client.say("DELE 2")
    assert client.say(line) == b"-ERR No such message.\r\n"


def test_deleted_messages_leave_stat_list_and_uidl_and_numbers_never_shift_rfc1939_s5() -> None:
    client = Client().login(snapshot(100, 200, 300))
    client.say("DELE 2")
    assert client.say("STAT") == b"+OK 2 400\r\n"
    assert client.say("LIST") == b"+OK 2 messages (400 octets)\r\n1 100\r\n3 300\r\n.\r\n"
    assert client.say("UIDL") == b"+OK Unique-ID listing follows.\r\n1 uid-1\r\n3 uid-3\r\n.\r\n"
    assert client.say("LIST 3") == b"+OK 3 300\r\n"


def test_rset_unmarks_every_deleted_message_rfc1939_s5() -> None:
    client = Client().login(snapshot(100, 200, 300))
    client.say("DELE 1")
    client.say("DELE 3")
    assert client.say("RSET") == b"+OK Maildrop has 3 messages (600 octets).\r\n"
    assert client.say("STAT") == b"+OK 3 600\r\n"
    assert client.say("RETR 1") == b"+OK 100 octets\r\n"


def test_noop_rfc1939_s5() -> None:
    assert Client().login().say("NOOP") == b"+OK\r\n"


def test_quit_before_login_signs_off_without_commit_rfc1939_s4() -> None:
    client = Client()
    assert client.send("QUIT") == [Send(b"+OK popdrop POP3 signing off.\r\n"), Close()]
    assert client.session.closed


def test_quit_after_login_commits_the_deletions_in_order_rfc1939_s6() -> None:
    drop = snapshot(100, 200, 300)
    client = Client().login(drop)
    client.say("DELE 3")
    client.say("DELE 1")
    assert client.send("QUIT") == [Commit(MAILBOX, (drop.messages[0], drop.messages[2]))]
    assert client.session.state is State.UPDATE
    assert client.session.commit_result() == [
        Send(b"+OK popdrop POP3 signing off.\r\n"),
        Close(),
    ]
    assert client.session.closed


def test_quit_after_login_commits_even_without_deletions_rfc1939_s6() -> None:
    assert Client().login().send("QUIT") == [Commit(MAILBOX, ())]


def test_a_failed_commit_is_reported_and_the_connection_closed_rfc1939_s6() -> None:
    client = Client().login()
    client.say("DELE 1")
    client.send("QUIT")
    assert client.session.commit_result(StorageUnavailable("throttled")) == [
        Send(b"-ERR [SYS/TEMP] Some deleted messages not removed.\r\n"),
        Close(),
    ]


def test_rset_then_quit_commits_nothing_rfc1939_s6() -> None:
    client = Client().login()
    client.say("DELE 1")
    client.say("RSET")
    assert client.send("QUIT") == [Commit(MAILBOX, ())]


# Bad commands, limits and the end of a session (RFC 1939 §3; RFC 2449 §4; DESIGN invariant 7)


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"", b"-ERR Empty command.\r\n"),
        (b"XTND XLST", b"-ERR Unknown command.\r\n"),
        (b"\x00\xff\r", b"-ERR Unknown command.\r\n"),
        (b"NOOP " + b"x" * 300, b"-ERR Line too long.\r\n"),
    ],
)
def test_a_bad_line_gets_an_error_and_the_session_goes_on(line: bytes, reply: bytes) -> None:
    client = Client().login()
    assert client.say(line) == reply
    assert client.say("NOOP") == b"+OK\r\n"


def test_an_overlong_line_is_refused_and_dropped_rfc2449_s4() -> None:
    session = Client().login().session
    session.receive_data(b"LIST " + b"1" * 5000)
    assert session.buffered <= 255
    session.receive_data(b"1\r\nSTAT\r\n")
    assert session.next_actions() == [Send(b"-ERR Line too long.\r\n")]
    assert session.next_actions() == [Send(b"+OK 3 600\r\n")]


def test_the_bad_command_budget_closes_the_session() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, bad_command_budget=3))
    assert client.say("BAD") == b"-ERR Unknown command.\r\n"
    assert client.say("STAT") == b"-ERR Not logged in.\r\n"
    assert client.send("") == [Send(b"-ERR Too many bad commands.\r\n"), Close()]
    assert client.session.closed


def test_spending_the_budget_while_logged_in_releases_the_maildrop_without_commit() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, bad_command_budget=2)).login()
    client.say("DELE 1")
    client.say("USER again@example.test")
    assert client.send("BAD") == [
        Send(b"-ERR Too many bad commands.\r\n"),
        Release(MAILBOX),
        Close(),
    ]


def test_good_commands_and_missing_messages_do_not_spend_the_budget() -> None:
    client = Client(SessionConfig(plaintext_allowed=True, bad_command_budget=2)).login()
    for _ in range(5):
        client.say("NOOP")
        client.say("RETR 9")
    assert client.say("BAD") == b"-ERR Unknown command.\r\n"


def test_pipelined_commands_are_answered_one_per_call_in_order_rfc2449_s6_6() -> None:
    session = Client().login(snapshot(5)).session
    session.receive_data(b"STAT\r\nLIST 1\r\nNOOP\r\nQUI")
    assert session.next_actions() == [Send(b"+OK 1 5\r\n")]
    assert session.next_actions() == [Send(b"+OK 1 5\r\n")]
    assert session.next_actions() == [Send(b"+OK\r\n")]
    assert session.next_actions() is None
    session.receive_data(b"T\r\n")
    assert session.next_actions() == [Commit(MAILBOX, ())]


def test_nothing_is_processed_after_close() -> None:
    session = Client().session
    session.receive_data(b"QUIT\r\nCAPA\r\n")
    assert session.next_actions() == [Send(b"+OK popdrop POP3 signing off.\r\n"), Close()]
    assert session.next_actions() is None
    session.receive_data(b"CAPA\r\n")
    assert session.next_actions() is None
    assert session.buffered == 0


def test_lines_before_end_of_input_are_answered_then_the_connection_is_lost() -> None:
    session = Client().login().session
    session.receive_data(b"DELE 1\r\nSTAT\r\nDELE")
    session.receive_data(b"")
    assert session.next_actions() == [Send(b"+OK Message 1 deleted.\r\n")]
    assert session.next_actions() == [Send(b"+OK 2 500\r\n")]
    assert session.next_actions() == [Release(MAILBOX)]  # no Commit: DESIGN invariant 2
    assert session.closed
    assert session.next_actions() is None


def test_a_lost_connection_releases_the_maildrop_and_commits_nothing_rfc1939_s6() -> None:
    client = Client().login()
    client.say("DELE 1")
    assert client.session.connection_lost() == [Release(MAILBOX)]
    assert client.session.connection_lost() == []


def test_a_lost_connection_before_login_holds_nothing() -> None:
    session = Session(PLAINTEXT)
    session.receive_data(b"")
    assert session.next_actions() == []
    assert session.closed


def test_a_lost_connection_during_update_leaves_the_release_to_the_committer() -> None:
    client = Client().login()
    client.send("QUIT")
    assert client.session.connection_lost() == []


def test_autologout_sends_an_error_releases_and_closes_without_commit_rfc1939_s3() -> None:
    client = Client().login()
    client.say("DELE 1")
    assert client.session.timed_out() == [
        Send(b"-ERR Autologout; idle for too long.\r\n"),
        Release(MAILBOX),
        Close(),
    ]
    assert client.session.timed_out() == []


def test_the_session_limit_before_login_says_so_and_after_login_is_sys_temp() -> None:
    """Issue 15: the caller ends an unauthenticated session at its login limit, a logged-in one
    at the session's maximum length; each is told which."""
    waiting = Client()
    assert not waiting.session.logged_in
    assert waiting.session.timed_out(session_limit=True) == [
        Send(b"-ERR Too long without logging in.\r\n"),
        Close(),
    ]
    client = Client().login()
    assert client.session.logged_in
    assert client.session.timed_out(session_limit=True) == [
        Send(b"-ERR [SYS/TEMP] Session time limit reached.\r\n"),
        Release(MAILBOX),
        Close(),
    ]
    assert not client.session.logged_in  # closed


def test_autologout_while_a_message_is_streamed_sends_no_line_into_it() -> None:
    client = Client().login()
    client.send("RETR 1")
    assert client.session.timed_out() == [Release(MAILBOX), Close()]


@pytest.mark.parametrize(
    "config",
    [
        {"hostname": ""},
        {"hostname": "pop example"},
        {"hostname": "pop\r\n+OK"},
        {"bad_command_budget": 0},
        {"max_line": 254},
    ],
)
def test_an_invalid_config_cannot_be_constructed(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SessionConfig(**config)
