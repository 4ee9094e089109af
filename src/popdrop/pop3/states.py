"""The session's states and every change between them, as one table: state x event -> next state.

RFC 1939 names three states: AUTHORIZATION (§4), TRANSACTION (§5) and UPDATE (§6). The session adds
states in which it waits for its caller to report an outcome, and CLOSED. Events are of three kinds:

- the client's: each command a state reads (its type is the event), and on a SASL continuation
  line a response or a cancellation (RFC 5034 §4). A command the state's row lacks is refused with
  the state's `REFUSALS` line and changes nothing. A command the row has leads to its next state
  when the session carries it out; one the session answers with -ERR (RETR of no such message, PASS
  before USER, ...) leaves the state as it was;
- the session's own: it gives up on a client that spent its bad-command budget or its failed
  logins; it asks its caller for storage a POP4 command needs before it can answer (LOAD);
- the caller's reports (`Session.login_result`, `tls_started`, ...), each awaited in some states
  only: reporting one elsewhere is a bug in the caller (`UnexpectedCallback`). Once CLOSED, a late
  report changes nothing (a connection that dropped while its login was with the caller).

Commands are read only in AUTHORIZATION and TRANSACTION, a continuation line only in SASL_RESPONSE;
in every other state the session holds client input until the caller's report moves it on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from popdrop.pop3 import commands as c


class State(enum.Enum):
    AUTHORIZATION = "authorization"  # RFC 1939 §4
    AUTHENTICATING = "authenticating"  # PASS or APOP; waiting for the login result
    SASL_STEP = "sasl-step"  # an AUTH step is with the caller; waiting for a challenge or result
    SASL_RESPONSE = "sasl-response"  # AUTH sent a challenge; the next line is the response
    STARTING_TLS = "starting-tls"  # STLS accepted; waiting for tls_started (RFC 2595 §4)
    TRANSACTION = "transaction"  # RFC 1939 §5
    SENDING = "sending"  # RETR/TOP/PART streaming; waiting for message_sent or storage_failed
    LOADING = "loading"  # a POP4 command waits for folders, a folder's listing or a structure
    UPDATE = "update"  # RFC 1939 §6: QUIT asked for a commit; waiting for commit_result
    CLOSED = "closed"

    # Members are singletons, so identity is equality: hash them in C, not with Enum's Python-level
    # hash of the name (the session looks its state up on every command).
    __hash__ = object.__hash__


# The states of a session that has not logged in (RFC 1939 §4 AUTHORIZATION and the steps of a
# login or STLS within it): the daemon bounds how many such sessions an address has, and how long.
BEFORE_LOGIN: frozenset[State] = frozenset(
    {
        State.AUTHORIZATION,
        State.AUTHENTICATING,
        State.SASL_STEP,
        State.SASL_RESPONSE,
        State.STARTING_TLS,
    }
)


class Event(enum.Enum):
    """What moves the session besides the commands themselves."""

    # The client's, on a continuation line (RFC 5034 §4).
    SASL_RESPONSE = "sasl-response"  # a response to the challenge
    SASL_CANCEL = "sasl-cancel"  # "*", or a line that is no response: the exchange ends
    # The session's own.
    GIVE_UP = "give-up"  # the bad-command budget or the failed logins are spent
    LOAD = "load"  # a POP4 command needs storage read first (docs/pop4.md)
    # The caller's reports.
    LOGIN_OK = "login-ok"  # login_result with a snapshot
    LOGIN_FAILED = "login-failed"  # login_result with a refusal or a storage fault
    SASL_CHALLENGE = "sasl-challenge"  # sasl_challenge
    TLS_STARTED = "tls-started"  # tls_started
    MESSAGE_SENT = "message-sent"  # message_sent
    STORAGE_FAILED = "storage-failed"  # storage_failed (RETR/TOP before the status line)
    COMMITTED = "committed"  # commit_result, whatever it says: the session ends
    LOADED = "loaded"  # folders_listed, folder_opened or structure_read, whatever they say
    TIMEOUT = "timeout"  # timed_out: idle too long, or the session's time is up
    CONNECTION_LOST = "connection-lost"  # connection_lost, or end of input

    __hash__ = object.__hash__

    @property
    def reported(self) -> bool:
        """A report of the caller's, rather than the client's or the session's own doing."""
        return self not in (Event.SASL_RESPONSE, Event.SASL_CANCEL, Event.GIVE_UP, Event.LOAD)


Trigger = Event | type[c.Command]

_A, _T, _CLOSED = State.AUTHORIZATION, State.TRANSACTION, State.CLOSED
# Every state but CLOSED ends when the client goes or the timer fires.
_ENDS: Mapping[Trigger, State] = {Event.TIMEOUT: _CLOSED, Event.CONNECTION_LOST: _CLOSED}
_LOGIN_RESULT: Mapping[Trigger, State] = {Event.LOGIN_OK: _T, Event.LOGIN_FAILED: _A}
# POP4 commands answered in TRANSACTION (once what they need is loaded).
_POP4_ANSWERED = (c.Lfld, c.Sfld, c.Cfld, c.Dfld, c.Renf, c.Movf, c.Move, c.Copy, c.Mime)

TRANSITIONS: Mapping[State, Mapping[Trigger, State]] = {
    # RFC 1939 §4 and §7 (USER, PASS, APOP, QUIT), RFC 2449 §5 (CAPA in both states),
    # RFC 2595 §4 (STLS), RFC 5034 §4 (AUTH), RFC 6856 §2 (UTF8 before login only) and §3
    # (LANG in both states).
    State.AUTHORIZATION: {
        c.User: _A,
        c.Pass: State.AUTHENTICATING,
        c.Apop: State.AUTHENTICATING,
        c.Auth: State.SASL_STEP,  # with a mechanism on offer; without one it lists them
        c.Stls: State.STARTING_TLS,
        c.Quit: _CLOSED,  # RFC 1939 §4: QUIT before login ends without UPDATE
        c.Capa: _A,
        c.Utf8: _A,
        c.Lang: _A,
        Event.GIVE_UP: _CLOSED,
        **_ENDS,
    },
    State.AUTHENTICATING: {**_LOGIN_RESULT, **_ENDS},
    State.SASL_STEP: {**_LOGIN_RESULT, Event.SASL_CHALLENGE: State.SASL_RESPONSE, **_ENDS},
    State.SASL_RESPONSE: {
        Event.SASL_RESPONSE: State.SASL_STEP,
        Event.SASL_CANCEL: _A,
        **_ENDS,
    },
    # RFC 2595 §4: after the handshake the client starts again from AUTHORIZATION.
    State.STARTING_TLS: {Event.TLS_STARTED: _A, **_ENDS},
    # RFC 1939 §5 and §7; POP4's commands (docs/pop4.md), read only with the extension on.
    State.TRANSACTION: {
        c.Stat: _T,
        c.List: _T,
        c.Uidl: _T,
        c.Retr: State.SENDING,
        c.Top: State.SENDING,
        c.Dele: _T,
        c.Rset: _T,
        c.Noop: _T,
        c.Quit: State.UPDATE,  # RFC 1939 §6
        c.Capa: _T,
        c.Lang: _T,
        **dict.fromkeys(_POP4_ANSWERED, _T),
        c.Part: State.SENDING,
        Event.LOAD: State.LOADING,
        Event.GIVE_UP: _CLOSED,
        **_ENDS,
    },
    State.SENDING: {Event.MESSAGE_SENT: _T, Event.STORAGE_FAILED: _T, **_ENDS},
    # What was read lets the waiting command go on (it may ask for more: LOAD again).
    State.LOADING: {Event.LOADED: _T, **_ENDS},
    State.UPDATE: {Event.COMMITTED: _CLOSED, **_ENDS},
    State.CLOSED: {event: _CLOSED for event in Event if event.reported},
}

# The reply to a command the state does not read, for each state that reads commands.
REFUSALS: Mapping[State, str] = {
    State.AUTHORIZATION: "Not logged in.",
    State.TRANSACTION: "Not allowed after login.",
}


class UnexpectedCallback(RuntimeError):
    """The caller reported an outcome the session is not waiting for: a bug in the caller."""


class NotAccepted(ValueError):
    """A client (or session) event the state does not accept: the session refuses the command."""


def next_state(state: State, trigger: Trigger) -> State:
    """Where `trigger` leads from `state`; raises `NotAccepted` for a client or session event the
    state's row lacks, `UnexpectedCallback` for a report the state does not await."""
    following = TRANSITIONS[state].get(trigger)
    if following is not None:
        return following
    if isinstance(trigger, Event) and trigger.reported:
        raise UnexpectedCallback(f"{trigger.name} while the session is {state.value}")
    name = trigger.name if isinstance(trigger, Event) else trigger.__name__.upper()
    raise NotAccepted(f"{name} in {state.value}")
