"""What the POP3 session asks its caller to do, and what the caller may answer about a login.

The session (`popdrop.pop3.session.Session`) never touches a socket, a clock or storage: it turns
client bytes into these actions, in order. The caller (the asyncio daemon) carries each one out and,
for the actions that need an answer, reports the outcome back to the session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from popdrop.faces.faults import StoreError
from popdrop.folders import FolderChanges
from popdrop.model import Address, FolderId, MessageEntry, Snapshot


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes to the client."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check credentials and, if they hold, take the maildrop and list its snapshot.

    Answer with `Session.login_result(...)`; until then the session processes no further command.
    """

    username: str
    password: str = field(repr=False)  # never in a log line or a traceback


@dataclass(frozen=True, slots=True)
class AuthenticateApop:
    """Check an APOP digest (RFC 1939 §7): MD5(`timestamp` + the mailbox's APOP secret) must
    equal `digest`; if it does, take the maildrop and load its listing like `Authenticate`.

    `timestamp` is the one this session's greeting announced. Answer with `Session.login_result`.
    """

    username: str
    timestamp: str
    digest: str = field(repr=False)  # replayable within this session only, still kept out of logs


@dataclass(frozen=True, slots=True)
class SaslStep:
    """Advance a SASL exchange (RFC 5034 §4): `first` starts a new one for `mechanism`;
    `response` is the client's decoded response (None: AUTH carried no initial response).

    Answer with `Session.sasl_challenge(data)` to continue, or `Session.login_result(...)` to end
    it (`LoginRefused.DENIED` for a refused exchange). `mechanism` is one the session offered on
    this connection.
    """

    mechanism: str
    response: bytes | None = field(repr=False)
    first: bool


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Stream one stored message to the client, preceded by its `+OK` line, `status`.

    The caller writes `status` only once the object's first chunk is in hand, so that a storage
    fault can still be answered with `Session.storage_failed(fault)` (an `-ERR`) instead. It reads
    the object (only its first `header_size` octets plus what `top_lines` needs, when `top_lines` is
    not None), passes every chunk through a `popdrop.pop3.dotstuff.Stuffer` built with
    `top_lines`, writes what it returns, and finishes with `Stuffer.finish()`, which supplies the
    terminating CRLF "." CRLF (RFC 1939 §3). Then it calls `Session.message_sent()`. A fault after
    `status` was written cannot be answered: the caller drops the connection (`connection_lost`).
    """

    number: int
    message: MessageEntry
    status: bytes
    top_lines: int | None = None
    # POP4 PART: octets [start, end) of the object instead (one ranged GET), not read ahead.
    part: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ListFolders:
    """POP4: list `mailbox`'s folders (`MaildropStore.list_folders`); report the listing or the
    fault with `Session.folders_listed`."""

    mailbox: Address


@dataclass(frozen=True, slots=True)
class OpenFolder:
    """POP4 SFLD: list the messages of `mailbox`'s `folder` (`MaildropStore.read_listing`), its
    snapshot for the rest of the session; report them or the fault with `Session.folder_opened`."""

    mailbox: Address
    folder: FolderId


@dataclass(frozen=True, slots=True)
class ReadStructure:
    """POP4 MIME and PART: the message's MIME structure (`MaildropStore.mime_structure`); report
    it or the fault with `Session.structure_read`."""

    message: MessageEntry


@dataclass(frozen=True, slots=True)
class Commit:
    """Enter the UPDATE state: delete these messages of `mailbox` (RFC 1939 §6) and, in a POP4
    session that made any, the folder changes with them (`MaildropStore.commit_changes`), release
    the maildrop, then report `commit_result`."""

    mailbox: Address
    deletions: tuple[MessageEntry, ...]
    folders: FolderChanges | None = None


@dataclass(frozen=True, slots=True)
class StartTLS:
    """Upgrade the connection to TLS now (RFC 2595 §4), after the preceding `+OK` was flushed.

    The session has already discarded any bytes the client sent after the STLS line; report the
    outcome with `Session.tls_started()`.
    """


@dataclass(frozen=True, slots=True)
class Release:
    """The session is over without an UPDATE: release `mailbox`'s maildrop."""

    mailbox: Address


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection after writing everything emitted before this action."""


Action = (
    Send
    | Authenticate
    | AuthenticateApop
    | SaslStep
    | SendMessage
    | ListFolders
    | OpenFolder
    | ReadStructure
    | Commit
    | StartTLS
    | Release
    | Close
)


class LoginRefused(enum.Enum):
    """Why a login was refused when storage did not fail."""

    DENIED = "denied"  # unknown mailbox or wrong password: indistinguishable on the wire
    IN_USE = "in-use"  # another session holds the maildrop
    LOGIN_DELAY = "login-delay"  # too soon after the last login (RFC 2449 §6.8)
    NO_SUCH_FOLDER = "no-such-folder"  # a POP4 `user+folder` login names no folder


# The caller's answer to `Authenticate`, `AuthenticateApop` or a `SaslStep` that ends the exchange:
# the snapshot of the maildrop it took, a refusal, or the storage fault that stopped it.
LoginResult = Snapshot | LoginRefused | StoreError
