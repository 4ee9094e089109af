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


ALLOWED: Mapping[State, frozenset[type[c.Command]]] = {
    # RFC 1939 §4 (USER, PASS, QUIT), RFC 2449 §5 (CAPA in both states), RFC 2595 §4 (STLS).
    # RFC 5034 §4 (AUTH).
    State.AUTHORIZATION: frozenset({c.User, c.Pass, c.Quit, c.Capa, c.Stls, c.Auth}),
    # RFC 1939 §5 and §7.
    State.TRANSACTION: frozenset(
        {c.Stat, c.List, c.Uidl, c.Retr, c.Top, c.Dele, c.Rset, c.Noop, c.Quit, c.Capa}
    ),
}

# The reply to a command the state does not accept, for each state that reads commands.
REFUSALS: Mapping[State, str] = {
    State.AUTHORIZATION: "Not logged in.",
    State.TRANSACTION: "Not allowed after login.",
}
