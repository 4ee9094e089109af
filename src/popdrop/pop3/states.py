"""The session's states and, as a table, which command each state accepts.

RFC 1939 names three states: AUTHORIZATION (§4), TRANSACTION (§5) and UPDATE (§6). The session
adds states in which it waits for its caller to report an outcome, and CLOSED. Commands are only
read in AUTHORIZATION and TRANSACTION; in every other state the session holds client input until
the caller's report moves it on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from popdrop.pop3 import commands as c


class State(enum.Enum):
    AUTHORIZATION = "authorization"  # RFC 1939 §4
    AUTHENTICATING = "authenticating"  # PASS or an AUTH step; waiting for the caller's verdict
    SASL_RESPONSE = "sasl-response"  # AUTH sent a challenge; the next line is the response
    STARTING_TLS = "starting-tls"  # STLS accepted; waiting for tls_started (RFC 2595 §4)
    TRANSACTION = "transaction"  # RFC 1939 §5
    SENDING = "sending"  # RETR/TOP streaming; waiting for message_sent or storage_failed
    UPDATE = "update"  # RFC 1939 §6: QUIT asked for a commit; waiting for commit_result
    CLOSED = "closed"

    # Members are singletons, so identity is equality: hash them in C, not with Enum's Python-level
    # hash of the name (the session looks its state up in ALLOWED on every command).
    __hash__ = object.__hash__


ALLOWED: Mapping[State, frozenset[type[c.Command]]] = {
    # RFC 1939 §4 and §7 (USER, PASS, APOP, QUIT), RFC 2449 §5 (CAPA in both states),
    # RFC 2595 §4 (STLS), RFC 5034 §4 (AUTH), RFC 6856 §2 (UTF8 before login only) and §3
    # (LANG in both states).
    State.AUTHORIZATION: frozenset(
        {c.User, c.Pass, c.Apop, c.Quit, c.Capa, c.Stls, c.Auth, c.Utf8, c.Lang}
    ),
    # RFC 1939 §5 and §7.
    State.TRANSACTION: frozenset(
        {c.Stat, c.List, c.Uidl, c.Retr, c.Top, c.Dele, c.Rset, c.Noop, c.Quit, c.Capa, c.Lang}
    ),
}

# The reply to a command the state does not accept, for each state that reads commands.
REFUSALS: Mapping[State, str] = {
    State.AUTHORIZATION: "Not logged in.",
    State.TRANSACTION: "Not allowed after login.",
}
