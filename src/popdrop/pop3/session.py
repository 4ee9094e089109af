"""The POP3 session: client bytes in, actions out (RFC 1939, 2449, 2595, 5034, 6856).

Driven like h11: the caller feeds bytes (`receive_data`), asks for the actions of the next command
(`next_actions`), carries them out, and reports outcomes back (`login_result`, `sasl_challenge`,
`message_sent`, `storage_failed`, `commit_result`, `tls_started`, `timed_out`, `connection_lost`,
and `loaded` for POP4's reads). Sockets, clocks and storage stay with the caller. POP4's commands
(docs/pop4.md) are `popdrop.pop3.folder_session`'s.

Every change of state is a transition of the table in `popdrop.pop3.states`; every failure the
caller reports gets its reply from `popdrop.pop3.faults`. What belongs to the connection is a
`ConnectionState`, what belongs to the logged-in maildrop a `Transaction`. Two kinds of error: the
client's mistakes become "-ERR" replies and count against the bad-command budget; the caller's
(reporting an outcome nobody waits for) raise `UnexpectedCallback`.
"""

from __future__ import annotations

import base64

from popdrop.faces.faults import StoreError
from popdrop.model import Snapshot
from popdrop.pop3 import commands as c
from popdrop.pop3 import faults, replies
from popdrop.pop3.actions import (
    Action,
    Authenticate,
    AuthenticateApop,
    Close,
    Commit,
    LoginResult,
    Release,
    SaslStep,
    Send,
    SendMessage,
    StartTLS,
)
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.connection_state import SECRET_CARRYING, ConnectionState, language
from popdrop.pop3.folder_session import POP4_COMMANDS, FolderCommands, FolderSession, Load
from popdrop.pop3.lines import LineSplitter, LineTooLong
from popdrop.pop3.replies import ResponseCode
from popdrop.pop3.states import (
    BEFORE_LOGIN,
    REFUSALS,
    TRANSITIONS,
    Event,
    State,
    Trigger,
    next_state,
)
from popdrop.pop3.transaction import NO_SUCH_MESSAGE, Transaction

_PLAINTEXT_REFUSED = "Plaintext authentication disallowed on non-secure connections"
_OK = Send(replies.ok())  # NOOP's reply; actions are immutable, so one serves every session


class Session(FolderCommands):
    """One POP3 connection's protocol state; see the module docstring for how to drive it."""

    __slots__ = (
        "_config",
        "_connection",
        "_eof",
        "_folders",
        "_lines",
        "_pending",
        "_state",
        "_transaction",
    )

    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        self._connection = ConnectionState(config, config.tls_active)
        self._lines = LineSplitter(config.authorization_max_line)
        self._state = State.AUTHORIZATION
        self._eof = False
        # The maildrop, from login (RFC 1939 §8: its snapshot is fixed then) until QUIT hands it
        # to the caller or the session ends; while set, this session must release it. With POP4
        # on, the selected folder's; `_folders` holds the rest.
        self._transaction: Transaction | None = None
        self._folders: FolderSession | None = None
        self._pending: tuple[c.Command, Load] | None = None  # a POP4 command waiting for a read

    @property
    def state(self) -> State:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def logged_in(self) -> bool:
        """The client has authenticated (and the session has not closed)."""
        return self._state not in BEFORE_LOGIN and self._state is not State.CLOSED

    @property
    def tls_active(self) -> bool:
        return self._connection.tls_active

    @property
    def buffered(self) -> int:
        """Octets of client input held; below `max_line` whenever `next_actions` returned None
        for want of a complete line."""
        return self._lines.buffered

    @property
    def utf8(self) -> bool:
        return self._connection.utf8

    def greeting(self) -> list[Action]:
        """RFC 1939 §4: the server opens with a positive status line; with APOP on offer it ends
        with the timestamp the digest covers (RFC 1939 §7)."""
        timestamp = self._config.apop_timestamp
        suffix = f" {timestamp}" if timestamp is not None else ""
        pop4 = " POP4 rev0" if self._config.pop4 else ""  # what POP4 clients look for
        return [Send(replies.ok(f"{self._config.hostname} POP3{pop4} ready.{suffix}"))]

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
        state = self._state
        refusal = REFUSALS.get(state)
        if refusal is None and state is not State.SASL_RESPONSE:
            return None
        line = self._lines.next_line()
        if line is None:
            return self.connection_lost() if self._eof else None
        if refusal is None:
            return self._sasl_response(line)
        if isinstance(line, LineTooLong) or (
            len(line) + 2 > self._config.max_line and line[:5].upper() != b"AUTH "
        ):
            return self._refuse("Line too long.")
        command = c.parse_command(line, pop4=self._config.pop4)
        if isinstance(command, c.CommandError):
            return self._refuse(command.message)
        if type(command) not in TRANSITIONS[state]:
            return self._refuse(refusal)
        return self._execute(command)

    # The caller's reports.

    def login_result(self, result: LoginResult) -> list[Action]:
        """The outcome of `Authenticate`, `AuthenticateApop` or the `SaslStep` that ends an
        exchange: the snapshot of the maildrop taken, a refusal, or the storage fault that
        stopped it. After the session closed (the connection was lost or timed out meanwhile), a
        maildrop taken for it is released at once."""
        logged_in = isinstance(result, Snapshot)
        waited_in = self._report(Event.LOGIN_OK if logged_in else Event.LOGIN_FAILED)
        if waited_in is State.CLOSED:
            return [Release(result.mailbox)] if isinstance(result, Snapshot) else []
        connection = self._connection
        connection.forget_login()
        if isinstance(result, Snapshot):
            self._transaction = Transaction(result)
            if self._config.pop4:
                self._folders = FolderSession(self._transaction)
            self._lines.max_line = self._config.max_line
            return [Send(replies.ok("Logged in."))]
        failed = faults.failure(waited_in, result, login_delay=self._config.login_delay)
        assert failed is not None  # a login that failed has a reply
        if failed.counted:
            connection.auth_failures += 1
            if connection.auth_failures >= self._config.max_auth_failures:
                failed = faults.TOO_MANY_FAILED_LOGINS
        return self._answer(failed)

    def sasl_challenge(self, data: bytes) -> list[Action]:
        """The mechanism needs another response: send `data` as a continuation (RFC 5034 §4)."""
        if self._report(Event.SASL_CHALLENGE) is State.CLOSED:
            return []
        return [Send(b"+ " + base64.b64encode(data) + b"\r\n")]

    def message_sent(self) -> list[Action]:
        """The `SendMessage` stream finished, terminator included."""
        self._report(Event.MESSAGE_SENT)
        return []

    def storage_failed(self, fault: StoreError) -> list[Action]:
        """The message could not be read, and its status line was not sent (RFC 3206 §4)."""
        waited_in = self._report(Event.STORAGE_FAILED)
        if waited_in is State.CLOSED:
            return []
        failed = faults.failure(waited_in, fault)
        assert failed is not None  # a read that failed has a reply
        return self._answer(failed)

    def commit_result(self, fault: StoreError | None = None) -> list[Action]:
        """The outcome of `Commit` (RFC 1939 §6): None when it committed, else the fault that
        stopped it. The caller has released the maildrop; the session ends either way."""
        waited_in = self._report(Event.COMMITTED)
        if waited_in is State.CLOSED:
            return []
        failed = None if fault is None else faults.failure(waited_in, fault)
        if failed is None:
            reply = replies.ok(f"{self._config.hostname} POP3 signing off.")
        else:
            reply = replies.err(failed.text, failed.code)
        return [Send(reply), *self._release(), Close()]

    def tls_started(self) -> list[Action]:
        """The TLS handshake after STLS succeeded. RFC 2595 §4: no new greeting; the client
        starts again from AUTHORIZATION and should ask CAPA again."""
        if self._report(Event.TLS_STARTED) is not State.CLOSED:
            self._connection.tls_active = True
        return []

    def timed_out(self, *, session_limit: bool = False) -> list[Action]:
        """The idle timer expired (RFC 1939 §3 autologout), or with `session_limit` the session
        reached its maximum length (before login: the time a login may take): no UPDATE, nothing
        committed.

        RFC 1939 §3 suggests closing without a reply; like Dovecot we say why in an -ERR line,
        which a waiting client can show. The line is left out while a message or a TLS handshake
        is under way, where it would land inside the message or the handshake.
        """
        state = self._state
        if state is State.CLOSED:
            return self._end(Event.TIMEOUT)
        if state in (State.SENDING, State.STARTING_TLS):
            return self._close(Event.TIMEOUT, None)
        if session_limit and state in BEFORE_LOGIN:
            reply = replies.err("Too long without logging in.")
        elif session_limit:
            reply = replies.err("Session time limit reached.", ResponseCode.SYS_TEMP)
        else:
            reply = replies.err("Autologout; idle for too long.")
        return self._close(Event.TIMEOUT, reply)

    def connection_lost(self) -> list[Action]:
        """The client is gone: release the maildrop if this session holds it; never commit
        (RFC 1939 §6: only QUIT enters UPDATE)."""
        return self._end(Event.CONNECTION_LOST)

    # Transitions, and the ways a session ends.

    def _go(self, trigger: Trigger) -> None:
        self._state = next_state(self._state, trigger)

    def _report(self, event: Event) -> State:
        """Take a reported outcome's transition; the state it was awaited in."""
        waited_in = self._state
        self._state = next_state(waited_in, event)
        return waited_in

    def _end(self, trigger: Trigger) -> list[Action]:
        """Go to CLOSED by `trigger`; [Release] if this session held the maildrop."""
        self._go(trigger)
        return self._release()

    def _close(self, trigger: Trigger, reply: bytes | None) -> list[Action]:
        """End the session: the reply (if any), Release (if the maildrop is held), then Close."""
        sent: list[Action] = [] if reply is None else [Send(reply)]
        return [*sent, *self._end(trigger), Close()]

    def _release(self) -> list[Action]:
        """Forget the maildrop and all input; [Release] if this session held the maildrop."""
        transaction, self._transaction = self._transaction, None
        self._folders = self._pending = None
        self._lines.discard()
        return [] if transaction is None else [Release(transaction.mailbox)]

    def _answer(self, failed: faults.Failure) -> list[Action]:
        """A failure's -ERR; the session ends after it where `popdrop.pop3.faults` says so."""
        reply = replies.err(failed.text, failed.code)
        return self._close(Event.GIVE_UP, reply) if failed.close else [Send(reply)]

    def _refuse(self, text: str, code: ResponseCode | None = None) -> list[Action]:
        """A bad command line: -ERR, or the end of the session once the budget is spent."""
        connection = self._connection
        connection.bad_commands += 1
        if connection.bad_commands >= self._config.bad_command_budget:
            return self._close(Event.GIVE_UP, replies.err("Too many bad commands."))
        return [Send(replies.err(text, code))]

    # Commands.

    def _execute(self, command: c.Command) -> list[Action]:
        # The table lets the maildrop's commands through in TRANSACTION only, where `transaction`
        # is set. A match tries its cases in order: those commands come first.
        transaction = self._transaction
        match command:
            case c.Stat() if transaction:
                return [Send(transaction.stat())]
            case c.List(number) if transaction:
                return [Send(transaction.list(number))]
            case c.Uidl(number) if transaction:
                return [Send(transaction.uidl(number))]
            case c.Retr(number) if transaction:
                return self._send_message(transaction, number, None)
            case c.Top(number, lines) if transaction:
                return self._send_message(transaction, number, lines)
            case c.Dele(number) if transaction:
                return [Send(transaction.dele(number))]
            case c.Noop():
                return [_OK]
            case c.Rset() if transaction:
                return [Send(transaction.rset())]
            case c.Quit() if transaction:
                # RFC 1939 §6: enter UPDATE. The Commit hands the maildrop to the caller, who
                # releases it after committing: from here this session holds nothing.
                folders, self._transaction, self._folders = self._folders, None, None
                self._go(c.Quit)
                if folders is not None:
                    return [folders.commit()]
                return [Commit(transaction.mailbox, transaction.deletions())]
            case _ if self._folders is not None and isinstance(command, POP4_COMMANDS):
                return self._pop4(self._folders, command)
            case c.Quit():  # RFC 1939 §4: QUIT before login ends without UPDATE
                return self._close(c.Quit, replies.ok(f"{self._config.hostname} POP3 signing off."))
            case c.User(name):
                if not self._connection.plaintext_permitted():
                    return self._refuse_plaintext()
                # RFC 1939 §7 allows -ERR for an unknown mailbox; we never tell (no enumeration).
                self._connection.username = name
                return [Send(replies.ok("Send PASS."))]
            case c.Pass(password):
                username = self._connection.username
                if not self._connection.plaintext_permitted():
                    return self._refuse_plaintext()
                if username is None:
                    return self._refuse("Send USER first.")
                self._go(c.Pass)
                return [Authenticate(username, password)]
            case c.Apop(name, digest):
                return self._apop(name, digest)
            case c.Auth(mechanism, initial):
                return self._auth(mechanism, initial)
            case c.Stls():
                return self._stls()
            case c.Utf8():
                if self._connection.utf8:
                    return self._refuse("Already in UTF-8 mode.")
                self._connection.utf8 = True  # RFC 6856 §2: names and passwords are UTF-8 now
                return [Send(replies.ok("UTF-8 mode enabled."))]
            case c.Capa():
                status = replies.ok("Capability list follows.")
                listed = self._connection.capabilities()
                return [Send(replies.multiline(status, listed))]
            case c.Lang(tag):
                return [Send(language(tag))]
            case _:
                raise AssertionError(f"{type(command).__name__} read without a maildrop")

    def _send_message(
        self, transaction: Transaction, number: int, top_lines: int | None
    ) -> list[Action]:
        entry = transaction.message(number)
        if entry is None:
            return [Send(NO_SUCH_MESSAGE)]
        # RFC 1939 §7: RETR's size is the octets before dot-stuffing, which is what LIST counts.
        status = replies.ok(f"{entry.size} octets" if top_lines is None else "Top of message.")
        self._go(c.Retr if top_lines is None else c.Top)
        return [SendMessage(number, entry, status, top_lines)]

    def _apop(self, name: str, digest: str) -> list[Action]:
        """RFC 1939 §7 APOP: offered only with a greeting timestamp. The digest proves knowledge
        of the secret without sending it, so it needs no TLS (unlike USER/PASS)."""
        timestamp = self._config.apop_timestamp
        if timestamp is None:
            return self._refuse("APOP not available.")
        self._connection.username = None
        self._go(c.Apop)
        return [AuthenticateApop(name, timestamp, digest)]

    def _auth(self, mechanism: str | None, initial: bytes | None) -> list[Action]:
        connection = self._connection
        offered = connection.offered_mechanisms()
        if mechanism is None:
            return [Send(replies.multiline(replies.ok("Mechanisms follow."), offered))]
        if mechanism not in offered:
            if mechanism in SECRET_CARRYING and mechanism in self._config.sasl_mechanisms:
                return self._refuse_plaintext()
            return self._refuse("Unsupported authentication mechanism.")
        connection.username, connection.mechanism = None, mechanism
        self._go(c.Auth)
        return [SaslStep(mechanism, initial, first=True)]

    def _sasl_response(self, line: bytes | LineTooLong) -> list[Action]:
        """RFC 5034 §4: a continuation line is a base64 response, or "*" to cancel; either way a
        malformed one ends the exchange with -ERR."""
        connection = self._connection
        mechanism = connection.mechanism
        assert mechanism is not None  # SASL_RESPONSE is entered from an exchange only
        response = None if isinstance(line, LineTooLong) or line == b"*" else c.decode_sasl(line)
        if response is not None:
            self._go(Event.SASL_RESPONSE)
            return [SaslStep(mechanism, response, first=False)]
        self._go(Event.SASL_CANCEL)
        connection.mechanism = None
        if isinstance(line, LineTooLong):
            return self._refuse("Response too long; authentication aborted.")
        if line == b"*":
            return [Send(replies.err("Authentication cancelled."))]
        return self._refuse("Invalid base64; authentication aborted.")

    def _refuse_plaintext(self) -> list[Action]:
        # RFC 3206 §5 [AUTH]; recommending STLS only where it is on offer.
        advice = "; use STLS first." if self._config.stls_available else "."
        return self._refuse(_PLAINTEXT_REFUSED + advice, ResponseCode.AUTH)

    def _stls(self) -> list[Action]:
        if self._connection.tls_active:
            return self._refuse("Command not permitted when TLS active.")  # RFC 2595 §4
        if not self._config.stls_available:
            return self._refuse("STLS not available.")
        # RFC 2595 §4: bytes the client sent after STLS must not be read as commands once TLS is
        # up (CVE-2011-0411), and what the client said before the handshake is forgotten.
        self._lines.discard()
        self._connection.username = None
        self._go(c.Stls)
        return [Send(replies.ok("Begin TLS negotiation.")), StartTLS()]
