"""Every way a storage-backed command can fail, and its one reply: the only place that decides.

Four moments meet storage: a login (PASS, APOP, or the end of an AUTH exchange), the first chunk
of a RETR, TOP or PART (before its status line is sent), a POP4 command's read (the folders, a
folder's listing, a message's structure), and QUIT's commit. At each, the caller reports a
refusal (`LoginRefused`) or a fault of `popdrop.faces.faults` (a closed set), and the table below
gives the reply (RFC 3206's response codes, RFC 2449 §8's) and whether the session ends. A fault is
looked up by its class, then by the classes it derives from, so `CleanupPending` finds its own row
before `StorageUnavailable`'s, and every permanent fault without a row of its own finds
`StoreError`'s.

The rule behind the rows: RFC 3206 §4, [SYS/TEMP] when the same request may succeed later (storage
throttled or unreachable, a lease that ran out) and [SYS/PERM] when it will not until an operator
acts (access denied, a missing table, an object that is gone); RFC 3206 §5 [AUTH] for credentials,
with one reply for an unknown mailbox and a wrong password; RFC 2449 §8.1 [IN-USE] and
[LOGIN-DELAY]. A fault after a RETR's status line was sent cannot be answered at all: the caller
drops the connection (`SendMessage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from popdrop.faces.faults import (
    CleanupPending,
    DirectoryChanged,
    LeaseLost,
    StorageUnavailable,
    StoreError,
)
from popdrop.pop3.actions import LoginRefused
from popdrop.pop3.replies import ResponseCode
from popdrop.pop3.states import State


@dataclass(frozen=True, slots=True)
class Failure:
    """An -ERR reply (`text` after the code), and what it does to the session."""

    text: str
    code: ResponseCode | None
    close: bool = False  # the session ends after the reply
    counted: bool = False  # a failed login: counts towards the connection's limit


# A moment a fault can meet, named by the state the session waits in.
_LOGIN: Final = (State.AUTHENTICATING, State.SASL_STEP)
_RETRIEVE: Final = State.SENDING
_LOAD: Final = State.LOADING
_COMMIT: Final = State.UPDATE

Cause = LoginRefused | type[StoreError]

# After a login's failure the client may try again (RFC 1939 §4); a RETR's failure leaves the
# session in TRANSACTION; QUIT ends the session whatever the commit did (RFC 1939 §6).
_LOGIN_REPLIES: Mapping[Cause, Failure] = {
    LoginRefused.DENIED: Failure("Authentication failed.", ResponseCode.AUTH, counted=True),
    LoginRefused.IN_USE: Failure("Maildrop is in use.", ResponseCode.IN_USE),
    LoginRefused.LOGIN_DELAY: Failure(
        "Wait {login_delay} seconds between logins.", ResponseCode.LOGIN_DELAY
    ),
    # The credentials held (so the answer tells their owner only); the folder is not there.
    LoginRefused.NO_SUCH_FOLDER: Failure("No such folder.", ResponseCode.SYS_PERM),
    StorageUnavailable: Failure("Try again later.", ResponseCode.SYS_TEMP),
    StoreError: Failure("Maildrop unavailable.", ResponseCode.SYS_PERM),
}
_RETRIEVE_REPLIES: Mapping[Cause, Failure] = {
    StorageUnavailable: Failure("Message unavailable; try again later.", ResponseCode.SYS_TEMP),
    # ObjectNotFound among them: the message's object is gone, and will not come back.
    StoreError: Failure("Message unavailable.", ResponseCode.SYS_PERM),
}
# A POP4 command's read failed; the session goes on in TRANSACTION, nothing changed.
_LOAD_REPLIES: Mapping[Cause, Failure] = {
    StorageUnavailable: Failure("Storage unavailable; try again later.", ResponseCode.SYS_TEMP),
    StoreError: Failure("Storage unavailable.", ResponseCode.SYS_PERM),
}
_NOT_COMMITTED: Final = "Some deleted messages not removed."
_COMMIT_REPLIES: Mapping[Cause, Failure | None] = {
    # The entries are deleted; only their objects wait for the next commit or `popdrop gc`.
    CleanupPending: None,
    # The lease ran out (or was taken over): nothing was deleted; log in again and retry.
    LeaseLost: Failure(_NOT_COMMITTED, ResponseCode.SYS_TEMP, close=True),
    # POP4: another client changed the folders during the session; nothing was written.
    DirectoryChanged: Failure(
        "Folders changed meanwhile; nothing committed.", ResponseCode.SYS_TEMP, close=True
    ),
    StorageUnavailable: Failure(_NOT_COMMITTED, ResponseCode.SYS_TEMP, close=True),
    StoreError: Failure(_NOT_COMMITTED, ResponseCode.SYS_PERM, close=True),
}
# The reply to the failed login that reaches the connection's limit (`max_auth_failures`).
TOO_MANY_FAILED_LOGINS: Final = Failure(
    "Authentication failed; too many attempts.", ResponseCode.AUTH, close=True
)
REPLIES: Mapping[State, Mapping[Cause, Failure | None]] = {
    **dict.fromkeys(_LOGIN, _LOGIN_REPLIES),
    _RETRIEVE: _RETRIEVE_REPLIES,
    _LOAD: _LOAD_REPLIES,
    _COMMIT: _COMMIT_REPLIES,
}


def failure(
    state: State, cause: LoginRefused | StoreError, *, login_delay: int = 0
) -> Failure | None:
    """The reply to `cause` met in `state` (one of REPLIES' states); None: the command succeeded
    after all (a commit whose objects wait for garbage collection)."""
    replies = REPLIES[state]
    if isinstance(cause, LoginRefused):
        found = replies[cause]
    else:
        found = next(replies[kind] for kind in type(cause).__mro__ if kind in replies)
    return (
        None if found is None else replace(found, text=found.text.format(login_delay=login_delay))
    )


def committed(fault: StoreError | None) -> bool:
    """Whether a commit that ended with `fault` deleted the messages (QUIT answers +OK)."""
    return fault is None or failure(_COMMIT, fault) is None
