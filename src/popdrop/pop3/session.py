"""The POP3 session: client bytes in, actions out (RFC 1939, RFC 2449, RFC 2595, RFC 6856).

Driven like h11: the caller feeds bytes (`receive_data`), asks for the actions of the next command
(`next_actions`), carries them out, and reports outcomes back (`login_result`, `message_sent`,
`storage_failed`, `commit_result`, `tls_started`). Sockets, clocks and storage stay with the
caller. Two kinds of error: the client's mistakes become "-ERR" replies and count against the
bad-command budget; the caller's mistakes (reporting an outcome nobody waits for) raise
`UnexpectedCallback`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import assert_never

from popdrop.model import Maildrop, MessageEntry
from popdrop.pop3 import commands as c
from popdrop.pop3 import replies
from popdrop.pop3.actions import (
    Action,
    Authenticate,
    AuthenticateApop,
    Close,
    Commit,
    LoginOutcome,
    Release,
    SaslStep,
    Send,
    SendMessage,
    StartTLS,
)
from popdrop.pop3.lines import DEFAULT_MAX_LINE, LineSplitter, LineTooLong
from popdrop.pop3.replies import ResponseCode
from popdrop.pop3.states import ALLOWED, REFUSALS, State

# The greeting and sign-off carry the host name: printable ASCII without spaces, like a DNS name.
_HOSTNAME_RE = re.compile(r"[\x21-\x7e]{1,253}")
# RFC 1939 §7: the APOP timestamp is a msg-id, "<" printable ASCII without spaces ">".
_TIMESTAMP_RE = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,200}>")
# RFC 6856 §3: the one language popdrop's replies are written in.
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    hostname: str = "popdrop"
    # The connection is encrypted from the start (implicit-TLS port, RFC 8314); after STLS the
    # session tracks this itself.
    tls_active: bool = False
    # A certificate is configured for this listener, so STLS can be offered (RFC 2595 §4).
    stls_available: bool = False
    # USER/PASS are allowed here without TLS (the operator's choice, e.g. loopback in `dev`).
    plaintext_allowed: bool = False
    # The bad command line that spends the budget is answered "-ERR Too many bad commands." and
    # the session closes: enough for a client probing extensions, too few for a fuzzer.
    bad_command_budget: int = 10
    # RFC 2449 §4: clients may send lines of 255 octets, so the limit is never lower.
    max_line: int = DEFAULT_MAX_LINE
    # RFC 1939 §7: with a timestamp the greeting carries it and APOP is offered; None (the
    # default) leaves APOP out. The caller makes it unique and unpredictable per connection.
    apop_timestamp: str | None = None
    # RFC 2449 §6.7 EXPIRE: days a retrieved message is kept, or None for NEVER (no retention
    # policy deletes mail: only QUIT after DELE does).
    expire_days: int | None = None
    # RFC 2449 §6.8 LOGIN-DELAY: seconds between logins the caller enforces; 0 leaves it out.
    login_delay: int = 0
    # SASL mechanisms the operator enabled, strongest first; each connection offers those that
    # suit it (see `_offered_mechanisms`).
    sasl_mechanisms: tuple[str, ...] = ()
    # Failed logins (USER/PASS, APOP or AUTH) one connection may make before it is closed.
    max_auth_failures: int = 3

    def __post_init__(self) -> None:
        if not _HOSTNAME_RE.fullmatch(self.hostname):
            raise ValueError(f"hostname must be printable ASCII without spaces: {self.hostname!r}")
        if self.bad_command_budget < 1:
            raise ValueError("bad_command_budget must be at least 1")
        if self.max_auth_failures < 1:
            raise ValueError("max_auth_failures must be at least 1")
        if self.max_line < DEFAULT_MAX_LINE:
            raise ValueError(f"max_line must be at least {DEFAULT_MAX_LINE} (RFC 2449 §4)")
        if self.apop_timestamp is not None and not _TIMESTAMP_RE.fullmatch(self.apop_timestamp):
            raise ValueError(f"an APOP timestamp is <printable text>: {self.apop_timestamp!r}")
        if self.expire_days is not None and self.expire_days < 0:
            raise ValueError("expire_days must not be negative")
        if self.login_delay < 0:
            raise ValueError("login_delay must not be negative")


class UnexpectedCallback(RuntimeError):
    """The caller reported an outcome the session is not waiting for: a bug in the caller."""


_PLAINTEXT_REFUSED = "Plaintext authentication disallowed on non-secure connections"
# Mechanisms that hand the server a reusable secret (a password or a bearer token): like USER/PASS,
# only where plaintext login is permitted.
_SECRET_CARRYING = frozenset({"PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"})
# RFC 5034 §4 bounds AUTH's command line, not the responses: an OAUTHBEARER response carries a
# JWT of a few KiB, base64-encoded. Responses may be this long, and so may an AUTH line with an
# initial response (mpop, Thunderbird and others send the token there, beyond RFC 5034's 255).
SASL_MAX_LINE = 24 * 1024
# Also the reply for a message marked deleted: RFC 1939 §5 makes those invisible.
_NO_SUCH_MESSAGE = replies.err("No such message.")
_OK = Send(replies.ok())  # NOOP's reply; actions are immutable, so one serves every session


class Session:
    """One POP3 connection's protocol state; see the module docstring for how to drive it."""

    __slots__ = (
        "_auth_failures",
        "_bad_commands",
        "_config",
        "_deleted",
        "_eof",
        "_lines",
        "_mailbox",
        "_messages",
        "_sasl_mechanism",
        "_state",
        "_tls_active",
        "_username",
        "_utf8",
        "_visible_count",
        "_visible_octets",
    )

    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        self._lines = LineSplitter(self._authorization_limit(config))
        self._state = State.AUTHORIZATION
        self._tls_active = config.tls_active
        self._eof = False
        self._bad_commands = 0
        self._auth_failures = 0
        self._username: str | None = None
        self._utf8 = False  # RFC 6856 §2: UTF-8 mode, entered with the UTF8 command
        self._sasl_mechanism: str | None = None
        # The maildrop, fixed at login (RFC 1939 §8). `_mailbox` is set while this session holds
        # it and must release it; `_deleted` holds one deletion mark per message (RFC 1939 §6).
        self._mailbox: str | None = None
        self._messages: tuple[MessageEntry, ...] = ()
        self._deleted = bytearray()
        # The messages not marked deleted and their octets, kept as marks change: STAT is O(1).
        self._visible_count = self._visible_octets = 0

    @property
    def state(self) -> State:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def buffered(self) -> int:
        """Octets of client input held; below `max_line` whenever `next_actions` returned None
        for want of a complete line."""
        return self._lines.buffered

    @property
    def utf8(self) -> bool:
        return self._utf8

    def greeting(self) -> list[Action]:
        """RFC 1939 §4: the server opens with a positive status line; with APOP on offer it ends
        with the timestamp the digest covers (RFC 1939 §7)."""
        timestamp = self._config.apop_timestamp
        suffix = f" {timestamp}" if timestamp is not None else ""
        return [Send(replies.ok(f"{self._config.hostname} POP3 ready.{suffix}"))]

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; b"" means the client closed its side."""
        if not data:
            self._eof = True
        elif self._state not in (State.STARTING_TLS, State.CLOSED) and not self._eof:
            # Plaintext arriving between STLS and the handshake is dropped like what was
            # buffered (RFC 2595 §4, CVE-2011-0411): it must never run as a command.
            self._lines.feed(data)

    def next_actions(self) -> list[Action] | None:
        """The actions of the next buffered command line, processing at most one.

        None when no complete line is buffered, while an outcome is awaited, or once closed.
        After end of input with nothing left to process: the actions of `connection_lost()`.
        """
        allowed = ALLOWED.get(self._state)
        if allowed is None and self._state is not State.SASL_RESPONSE:
            return None
        line = self._lines.next_line()
        if line is None:
            return self.connection_lost() if self._eof else None
        if allowed is None:  # SASL_RESPONSE
            return self._sasl_response(line)
        if isinstance(line, LineTooLong) or (
            len(line) + 2 > self._config.max_line and line[:5].upper() != b"AUTH "
        ):
            return self._refuse("Line too long.")
        command = c.parse_command(line)
        if isinstance(command, c.CommandError):
            return self._refuse(command.message)
        if type(command) not in allowed:
            return self._refuse(REFUSALS[self._state])
        return self._execute(command)

    def login_result(self, outcome: LoginOutcome, maildrop: Maildrop | None = None) -> list[Action]:
        """The outcome of `Authenticate`; a maildrop accompanies `LoginOutcome.OK` and only it.

        After the session closed (connection lost or timed out meanwhile) a maildrop taken for it
        is released at once.
        """
        if self._state is State.CLOSED:
            return [Release(maildrop.mailbox)] if maildrop is not None else []
        self._expect(State.AUTHENTICATING, "login_result")
        if (outcome is LoginOutcome.OK) != (maildrop is not None):
            raise ValueError("a Maildrop accompanies LoginOutcome.OK, and only it")
        self._username = None
        self._sasl_mechanism = None
        self._state = State.AUTHORIZATION  # RFC 1939 §4: after -ERR the client may try again
        match outcome:
            case LoginOutcome.OK:
                assert maildrop is not None
                self._mailbox = maildrop.mailbox
                self._messages = maildrop.messages
                self._unmark_all()
                self._lines.max_line = self._config.max_line
                self._state = State.TRANSACTION
                return [Send(replies.ok("Logged in."))]
            case LoginOutcome.DENIED:
                # RFC 3206 §5; the same reply for an unknown mailbox and a wrong password.
                self._auth_failures += 1
                if self._auth_failures >= self._config.max_auth_failures:
                    return self._close(
                        replies.err("Authentication failed; too many attempts.", ResponseCode.AUTH)
                    )
                return [Send(replies.err("Authentication failed.", ResponseCode.AUTH))]
            case LoginOutcome.IN_USE:
                return [Send(replies.err("Maildrop is in use.", ResponseCode.IN_USE))]
            case LoginOutcome.LOGIN_DELAY:
                text = f"Wait {self._config.login_delay} seconds between logins."
                return [Send(replies.err(text, ResponseCode.LOGIN_DELAY))]
            case LoginOutcome.TEMPORARY_FAILURE:
                return [Send(replies.err("Try again later.", ResponseCode.SYS_TEMP))]
            case LoginOutcome.PERMANENT_FAILURE:
                return [Send(replies.err("Maildrop unavailable.", ResponseCode.SYS_PERM))]
            case _:
                assert_never(outcome)

    def sasl_challenge(self, data: bytes) -> list[Action]:
        """The mechanism needs another response: send `data` as a continuation (RFC 5034 §4)."""
        if self._state is State.CLOSED:
            return []
        self._expect(State.AUTHENTICATING, "sasl_challenge")
        if self._sasl_mechanism is None:
            raise UnexpectedCallback("sasl_challenge() after PASS")
        self._state = State.SASL_RESPONSE
        return [Send(b"+ " + base64.b64encode(data) + b"\r\n")]

    def message_sent(self) -> list[Action]:
        """The `SendMessage` stream finished, terminator included."""
        if self._state is State.CLOSED:
            return []
        self._expect(State.SENDING, "message_sent")
        self._state = State.TRANSACTION
        return []

    def storage_failed(self, *, permanent: bool = False) -> list[Action]:
        """The message could not be read, and its `status` line was not sent (RFC 3206 §4):
        [SYS/TEMP] when retrying may work, [SYS/PERM] when it will not (the object is gone)."""
        if self._state is State.CLOSED:
            return []
        self._expect(State.SENDING, "storage_failed")
        self._state = State.TRANSACTION
        if permanent:
            return [Send(replies.err("Message unavailable.", ResponseCode.SYS_PERM))]
        return [Send(replies.err("Message unavailable; try again later.", ResponseCode.SYS_TEMP))]

    def commit_result(self, ok: bool) -> list[Action]:
        """The outcome of `Commit` (RFC 1939 §6); the caller has released the maildrop."""
        if self._state is State.CLOSED:
            return []
        self._expect(State.UPDATE, "commit_result")
        if ok:
            reply = replies.ok(f"{self._config.hostname} POP3 signing off.")
        else:
            reply = replies.err("Some deleted messages not removed.", ResponseCode.SYS_TEMP)
        return self._close(reply)

    def tls_started(self) -> list[Action]:
        """The TLS handshake after STLS succeeded. RFC 2595 §4: no new greeting; the client
        starts again from AUTHORIZATION and should ask CAPA again."""
        if self._state is State.CLOSED:
            return []
        self._expect(State.STARTING_TLS, "tls_started")
        self._tls_active = True
        self._state = State.AUTHORIZATION
        return []

    def timed_out(self, *, session_limit: bool = False) -> list[Action]:
        """The idle timer expired (RFC 1939 §3 autologout), or with `session_limit` the session
        reached its maximum length: no UPDATE, nothing committed.

        RFC 1939 §3 suggests closing without a reply; like Dovecot we say why in an -ERR line,
        which a waiting client can show. The line is left out while a message or a TLS handshake
        is under way, where it would land inside the message or the handshake.
        """
        if self._state is State.CLOSED:
            return []
        if self._state in (State.SENDING, State.STARTING_TLS):
            return self._close(None)
        if session_limit:
            return self._close(replies.err("Session time limit reached.", ResponseCode.SYS_TEMP))
        return self._close(replies.err("Autologout; idle for too long."))

    def connection_lost(self) -> list[Action]:
        """The client is gone: release the maildrop if this session holds it; never commit
        (RFC 1939 §6: only QUIT enters UPDATE)."""
        if self._state is State.CLOSED:
            return []
        return self._end()

    def _expect(self, state: State, callback: str) -> None:
        if self._state is not state:
            raise UnexpectedCallback(f"{callback}() while the session is {self._state.value}")

    def _close(self, reply: bytes | None) -> list[Action]:
        """End the session: the reply (if any), Release (if the maildrop is held), then Close."""
        sent: list[Action] = [] if reply is None else [Send(reply)]
        return [*sent, *self._end(), Close()]

    def _end(self) -> list[Action]:
        """Forget the maildrop and all input; [Release] if this session held the maildrop."""
        released: list[Action] = [] if self._mailbox is None else [Release(self._mailbox)]
        self._mailbox = None
        self._messages = ()
        self._unmark_all()
        self._lines.discard()
        self._state = State.CLOSED
        return released

    def _refuse(self, text: str, code: ResponseCode | None = None) -> list[Action]:
        """A bad command line: -ERR, or the end of the session once the budget is spent."""
        self._bad_commands += 1
        if self._bad_commands >= self._config.bad_command_budget:
            return self._close(replies.err("Too many bad commands."))
        return [Send(replies.err(text, code))]

    def _sasl_response(self, line: bytes | LineTooLong) -> list[Action]:
        """RFC 5034 §4: a continuation line is a base64 response, or "*" to cancel; either way a
        malformed one ends the exchange with -ERR."""
        mechanism = self._sasl_mechanism
        assert mechanism is not None
        self._state = State.AUTHORIZATION
        self._sasl_mechanism = None
        if isinstance(line, LineTooLong):
            return self._refuse("Response too long; authentication aborted.")
        if line == b"*":
            return [Send(replies.err("Authentication cancelled."))]
        response = c.decode_sasl(line) if line else b""
        if response is None:
            return self._refuse("Invalid base64; authentication aborted.")
        self._sasl_mechanism = mechanism
        self._state = State.AUTHENTICATING
        return [SaslStep(mechanism, response, first=False)]

    @staticmethod
    def _authorization_limit(config: SessionConfig) -> int:
        """Before login, lines may be as long as a SASL response where AUTH is on offer; the
        session itself refuses any other command line over `max_line` (RFC 2449 §4)."""
        return max(config.max_line, SASL_MAX_LINE) if config.sasl_mechanisms else config.max_line

    def _offered_mechanisms(self) -> list[str]:
        """RFC 5034 §6 / RFC 4422 §3.1: the configured mechanisms this connection can use.
        Channel binding (-PLUS, RFC 5802 §6) needs TLS; secret-carrying ones need what USER
        needs."""
        return [
            name
            for name in self._config.sasl_mechanisms
            if (self._tls_active or not name.endswith("-PLUS"))
            and (self._plaintext_permitted() or name not in _SECRET_CARRYING)
        ]

    def _auth(self, mechanism: str | None, initial: bytes | None) -> list[Action]:
        offered = self._offered_mechanisms()
        if mechanism is None:
            return [Send(replies.multiline(replies.ok("Mechanisms follow."), offered))]
        if mechanism not in offered:
            if mechanism in _SECRET_CARRYING and mechanism in self._config.sasl_mechanisms:
                return self._refuse_plaintext()
            return self._refuse("Unsupported authentication mechanism.")
        self._username = None
        self._sasl_mechanism = mechanism
        self._state = State.AUTHENTICATING
        return [SaslStep(mechanism, initial, first=True)]

    def _plaintext_permitted(self) -> bool:
        return self._tls_active or self._config.plaintext_allowed

    def _refuse_plaintext(self) -> list[Action]:
        # RFC 3206 §5 [AUTH]; recommending STLS only where it is on offer.
        advice = "; use STLS first." if self._config.stls_available else "."
        return self._refuse(_PLAINTEXT_REFUSED + advice, ResponseCode.AUTH)

    def _execute(self, command: c.Command) -> list[Action]:
        # A match tries its cases in order: the commands of the TRANSACTION state come first.
        match command:
            case c.Stat():
                count, octets = self._totals()
                return [Send(replies.ok_numbers(count, octets))]  # RFC 1939 §5: exactly "nn mm"
            case c.List(number):
                return self._list(number)
            case c.Uidl(number):
                return self._uidl(number)
            case c.Retr(number):
                return self._send_message(number, None)
            case c.Top(number, lines):
                return self._send_message(number, lines)
            case c.Dele(number):
                entry = self._message(number)
                if entry is None:
                    return [Send(_NO_SUCH_MESSAGE)]
                self._deleted[number - 1] = 1  # message numbers never shift (RFC 1939 §5 DELE)
                self._visible_count -= 1
                self._visible_octets -= entry.size
                return [Send(replies.ok(f"Message {number} deleted."))]
            case c.Noop():
                return [_OK]
            case c.Rset():
                self._unmark_all()
                count, octets = self._totals()
                return [Send(replies.ok(f"Maildrop has {count} messages ({octets} octets)."))]
            case c.Quit():
                return self._quit()
            case c.User(name):
                if not self._plaintext_permitted():
                    return self._refuse_plaintext()
                # RFC 1939 §7 allows -ERR for an unknown mailbox; we never tell (no enumeration).
                self._username = name
                return [Send(replies.ok("Send PASS."))]
            case c.Pass(password):
                if not self._plaintext_permitted():
                    return self._refuse_plaintext()
                if self._username is None:
                    return self._refuse("Send USER first.")
                self._state = State.AUTHENTICATING
                return [Authenticate(self._username, password)]
            case c.Apop(name, digest):
                return self._apop(name, digest)
            case c.Capa():
                status = replies.ok("Capability list follows.")
                return [Send(replies.multiline(status, self._capabilities()))]
            case c.Stls():
                return self._stls()
            case c.Utf8():
                if self._utf8:
                    return self._refuse("Already in UTF-8 mode.")
                self._utf8 = True  # RFC 6856 §2: names and passwords are UTF-8 from here on
                return [Send(replies.ok("UTF-8 mode enabled."))]
            case c.Lang(tag):
                return self._lang(tag)
            case c.Auth(mechanism, initial):
                return self._auth(mechanism, initial)
            case _:
                assert_never(command)

    def _quit(self) -> list[Action]:
        if self._mailbox is None:  # RFC 1939 §4: QUIT before login ends without UPDATE
            return self._close(replies.ok(f"{self._config.hostname} POP3 signing off."))
        # RFC 1939 §6: enter UPDATE. The Commit hands the maildrop to the caller, who releases it
        # after committing, so from here this session holds nothing to release.
        deletions = tuple(e for e, d in zip(self._messages, self._deleted, strict=True) if d)
        commit = Commit(self._mailbox, deletions)
        self._mailbox = None
        self._state = State.UPDATE
        return [commit]

    def _apop(self, name: str, digest: str) -> list[Action]:
        """RFC 1939 §7 APOP: offered only with a greeting timestamp. The digest proves knowledge
        of the secret without sending it, so it needs no TLS (unlike USER/PASS)."""
        timestamp = self._config.apop_timestamp
        if timestamp is None:
            return self._refuse("APOP not available.")
        self._username = None
        self._state = State.AUTHENTICATING
        return [AuthenticateApop(name, timestamp, digest)]

    def _lang(self, tag: str | None) -> list[Action]:
        """RFC 6856 §3 LANG: without an argument, list the languages; with a language range,
        switch to the language it matches (RFC 4647 §3.4 lookup: "en-GB" falls back to "en",
        "*" is the default), or -ERR when none does."""
        if tag is None:
            status = replies.ok("Language listing follows.")
            return [Send(replies.multiline(status, [f"{DEFAULT_LANGUAGE} English"]))]
        lowered = tag.lower()
        if lowered == "*" or lowered.split("-", 1)[0] == DEFAULT_LANGUAGE:
            return [Send(replies.ok(f"{DEFAULT_LANGUAGE} Language is English."))]
        return [Send(replies.err("Invalid language."))]

    def _stls(self) -> list[Action]:
        if self._tls_active:
            return self._refuse("Command not permitted when TLS active.")  # RFC 2595 §4
        if not self._config.stls_available:
            return self._refuse("STLS not available.")
        # RFC 2595 §4: bytes the client sent after STLS must not be read as commands once TLS is
        # up (CVE-2011-0411), and what the client said before the handshake is forgotten.
        self._lines.discard()
        self._username = None
        self._state = State.STARTING_TLS
        return [Send(replies.ok("Begin TLS negotiation.")), StartTLS()]

    def _capabilities(self) -> list[str]:
        """RFC 2449 §5: the same list in both states (§6.7 and §6.8 values included), except that
        USER shows only where plaintext login is allowed on this connection, and STLS only in
        AUTHORIZATION, when a certificate is configured and TLS is not yet active."""
        config = self._config
        expire = "NEVER" if config.expire_days is None else str(config.expire_days)
        capabilities = [
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            f"EXPIRE {expire}",  # RFC 2449 §6.7
        ]
        if config.login_delay:
            capabilities.append(f"LOGIN-DELAY {config.login_delay}")  # RFC 2449 §6.8
        capabilities += ["UTF8 USER", "LANG"]  # RFC 6856 §2 and §3
        if self._plaintext_permitted():
            capabilities.append("USER")
        if mechanisms := self._offered_mechanisms():
            capabilities.append("SASL " + " ".join(mechanisms))
        if (
            self._state is State.AUTHORIZATION
            and self._config.stls_available
            and not self._tls_active
        ):
            capabilities.append("STLS")
        capabilities.append("IMPLEMENTATION popdrop")
        return capabilities

    def _send_message(self, number: int, top_lines: int | None) -> list[Action]:
        entry = self._message(number)
        if entry is None:
            return [Send(_NO_SUCH_MESSAGE)]
        # RFC 1939 §7: RETR's size is the octets before dot-stuffing, which is what LIST counts.
        status = replies.ok(f"{entry.size} octets" if top_lines is None else "Top of message.")
        self._state = State.SENDING
        return [SendMessage(number, entry, status, top_lines)]

    def _list(self, number: int | None) -> list[Action]:
        """RFC 1939 §5 LIST: "n size" for one message, or for every one not marked deleted."""
        if number is None:
            count, octets = self._totals()
            status = replies.ok(f"{count} messages ({octets} octets)")
            lines = (f"{n} {entry.size}" for n, entry in self._visible())
            return [Send(replies.multiline(status, lines))]
        entry = self._message(number)
        if entry is None:
            return [Send(_NO_SUCH_MESSAGE)]
        return [Send(replies.ok_numbers(number, entry.size))]

    def _uidl(self, number: int | None) -> list[Action]:
        """RFC 1939 §7 UIDL: "n unique-id" for one message, or for every one not marked deleted."""
        if number is None:
            lines = (f"{n} {entry.uid}" for n, entry in self._visible())
            return [Send(replies.multiline(replies.ok("Unique-ID listing follows."), lines))]
        entry = self._message(number)
        if entry is None:
            return [Send(_NO_SUCH_MESSAGE)]
        return [Send(replies.ok(f"{number} {entry.uid}"))]

    def _message(self, number: int) -> MessageEntry | None:
        """Message `number` unless it does not exist or is marked deleted (RFC 1939 §5)."""
        if number > len(self._messages) or self._deleted[number - 1]:
            return None
        return self._messages[number - 1]

    def _visible(self) -> Iterator[tuple[int, MessageEntry]]:
        for index, entry in enumerate(self._messages):
            if not self._deleted[index]:
                yield index + 1, entry

    def _totals(self) -> tuple[int, int]:
        """The count and octets of the messages not marked deleted (RFC 1939 §5 STAT)."""
        return self._visible_count, self._visible_octets

    def _unmark_all(self) -> None:
        """No message marked deleted: at login and RSET (RFC 1939 §5)."""
        self._deleted = bytearray(len(self._messages))
        self._visible_count = len(self._messages)
        self._visible_octets = sum(entry.size for entry in self._messages)
