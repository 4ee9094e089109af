"""One POP3 connection: the asyncio shell around the sans-IO session.

The session decides everything; this module moves bytes, runs the actions the session emits, and
reports their outcomes back. Nothing here parses POP3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from popd import sasl as sasl_mechanisms
from popd.inline_reader import Inline, InlineReader
from popd.maildrops import Maildrops
from popdrop.faces.faults import StoreError
from popdrop.logfmt import log_event
from popdrop.model import Snapshot
from popdrop.pop3 import faults
from popdrop.pop3.actions import (
    Action,
    Authenticate,
    AuthenticateApop,
    Close,
    Commit,
    ListFolders,
    LoginRefused,
    LoginResult,
    OpenFolder,
    ReadStructure,
    Release,
    SaslStep,
    Send,
    SendMessage,
    StartTLS,
)
from popdrop.pop3.dotstuff import Stuffer
from popdrop.pop3.session import Session
from popdrop.proxy_protocol import looks_like_proxy_header

logger = logging.getLogger("popd.session")

READ_SIZE = 65536  # one read's worth of pipelined commands; the session bounds each line itself
# Replies are gathered and written together when the session next waits for the client, so a
# pipelined window costs one write, not one per command; past this many octets they are written
# and drained at once, which bounds what a window of large replies can hold.
FLUSH_AT = 65536
# Connection-level errors that end a session without a reply (the peer is gone or broke TLS).
PEER_GONE = (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, EOFError)


@dataclass
class SessionStats:
    """What the logout line reports (like Dovecot's pop3_logout_format)."""

    started: float = field(default_factory=time.monotonic)
    user: str = ""
    method: str = ""  # how the user logged in: "pass", "apop" or "sasl:<mechanism>"
    commands: int = 0
    retr: int = 0
    top: int = 0
    parts: int = 0  # POP4 PART
    deleted: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    outcome: str = "disconnected"


class _PeerGone(Exception):
    """The stream broke mid-message: the session cannot continue its framing."""


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        maildrops: Maildrops,
        *,
        idle_timeout: float,
        max_session: float,
        login_timeout: float,
        tls_context: Callable[[], ssl.SSLContext | None],
        sasl: Callable[[str, bool], sasl_mechanisms.Exchange | None],
        peer: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._outgoing: list[bytes] = []
        self._outgoing_size = 0
        self._session = session
        self._storage = maildrops.session()  # this session's lease and reads
        self._idle_timeout = idle_timeout
        self._max_session = max_session
        self._login_timeout = min(login_timeout, max_session)
        self._tls_context = tls_context
        self._sasl = sasl
        self._exchange: sasl_mechanisms.Exchange | None = None
        self._peer = peer
        self.stats = SessionStats()
        # The idle and session limits while waiting for input (see `_watch`).
        # Kept, not asked for per read: asyncio.get_running_loop() makes a getpid() system call.
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0
        self._reading = False
        self._expired = False
        # What the session asked for that only this task can do, handed over by `_answer`.
        self._handed: Sequence[Action] | None = None
        if isinstance(reader, InlineReader):
            reader.answer = self._answer

    async def run(self) -> None:
        self._task = asyncio.current_task()
        self._watch()  # arms the limits' timer
        try:
            await self._perform(self._session.greeting())
            while not self._session.closed:
                # Every buffered command (a pipelined window); None once input is needed, the
                # session waits on an outcome, or it closed.
                while (actions := self._session.next_actions()) is not None:
                    self.stats.commands += 1
                    if len(actions) == 1 and type(send := actions[0]) is Send:
                        # Most replies: written here, without a coroutine for `_perform`.
                        if self._write(send.data):
                            await self._drain()
                    else:
                        await self._perform(actions)
                if self._session.closed:
                    break
                await self._drain()
                data = await self._read()
                if self._handed is not None:
                    # The client was active: a limit that fired meanwhile is void.
                    handed, self._handed, self._expired = self._handed, None, False
                    cast(InlineReader, self._reader).take_over()
                    await self._perform(handed)
                    continue
                if data is None:
                    limit = self._session_deadline() <= self._waiting_since + self._idle_timeout
                    if not limit:
                        self.stats.outcome = "idle-timeout"
                    else:
                        logged_in = self._session.logged_in
                        self.stats.outcome = "session-limit" if logged_in else "login-timeout"
                    await self._perform(self._session.timed_out(session_limit=limit))
                    continue
                if self.stats.bytes_received == 0 and looks_like_proxy_header(data):
                    # A PROXY header that reaches the session came from an untrusted address (the
                    # listener consumes trusted ones): it is an attempt to choose our idea of the
                    # client's address. Close without a reply.
                    self.stats.outcome = "untrusted-proxy-header"
                    break
                self.stats.bytes_received += len(data)
                self._session.receive_data(data)
        except (*PEER_GONE, _PeerGone):
            _drop(self._writer)
            await self._perform_quietly(self._session.connection_lost())
        except asyncio.CancelledError:
            # The daemon is stopping: like a dropped connection, nothing is committed.
            await self._perform_quietly(self._session.connection_lost())
            raise
        finally:
            await self._end()

    async def _end(self) -> None:
        """Close the connection, let go of its storage and log the session."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._writer.close()
        if isinstance(self._reader, InlineReader):
            self._reader.answer = None  # the last cycle through this connection (collector.py)
        await self._storage.reader.close()
        log_event(
            logger,
            "pop3.logout",
            peer=self._peer,
            user=self.stats.user,
            method=self.stats.method,
            outcome=self.stats.outcome,
            commands=self.stats.commands,
            retr=self.stats.retr,
            top=self.stats.top,
            parts=self.stats.parts,
            deleted=self.stats.deleted,
            bytes_sent=self.stats.bytes_sent,
            seconds=round(time.monotonic() - self.stats.started, 3),
        )

    def _answer(self, data: bytes) -> Inline:
        """The client's bytes, given by the reader while this task waits in `_read`: the session's
        single replies are written here, without waking the task (popd/inline_reader.py)."""
        if not self._reading or self._expired or self.stats.bytes_received == 0:
            return Inline.DECLINED  # the first bytes may be a PROXY header: `run` looks at them
        self.stats.bytes_received += len(data)
        session = self._session
        session.receive_data(data)
        while (actions := session.next_actions()) is not None:
            self.stats.commands += 1
            if len(actions) != 1 or type(send := actions[0]) is not Send or session.closed:
                self._handed = actions
                return Inline.HANDED
            if self._write(send.data):  # FLUSH_AT reached: the task drains
                self._handed = ()
                return Inline.HANDED
        self._flush()
        transport = self._writer.transport
        if (
            session.closed
            or transport.get_write_buffer_size() > transport.get_write_buffer_limits()[0]
        ):
            self._handed = ()  # the task waits for the client to take what was written
            return Inline.HANDED
        self._waiting_since = self._loop.time()
        return Inline.ANSWERED

    async def _read(self) -> bytes | None:
        """The client's next bytes (b"" at end of input), or None once it has been silent for the
        idle timeout or the session has lasted its limit (RFC 1939 §3 autologout)."""
        self._waiting_since = self._loop.time()
        if self._waiting_since >= self._session_deadline():
            return None  # the limit passed while the session was busy
        self._reading = True
        try:
            return await self._reader.read(READ_SIZE)
        except asyncio.CancelledError:
            if not self._expired or self._task is None:
                raise
            self._task.uncancel()
            return None
        finally:
            self._reading = False

    def _read_deadline(self) -> float:
        return min(self._waiting_since + self._idle_timeout, self._session_deadline())

    def _session_deadline(self) -> float:
        """The session's end: POPDROP_LOGIN_TIMEOUT after the start until the client logs in,
        POPDROP_MAX_SESSION_SECONDS after it then."""
        limit = self._max_session if self._session.logged_in else self._login_timeout
        return self.stats.started + limit

    def _watch(self) -> None:
        """The limits on waiting for input, checked by one timer per connection that moves only
        when it fires, rather than one armed and cancelled around every read (which would cost
        every pipelined window a timer). The timer only ever fires early, never late: it is
        re-armed for the deadline the current or next read has."""
        now = self._loop.time()
        if self._reading:
            deadline = self._read_deadline()
            if now >= deadline and self._task is not None:
                # Suspended in the read, and only there: `_read` turns this into its None.
                self._expired = True
                self._task.cancel()
                return
        else:
            # Busy (streaming a message, waiting on storage): the next read waits from later. A
            # limit passed meanwhile is met by `_read` itself; the timer must not fire at once.
            session = self._session_deadline()
            deadline = (
                now + self._idle_timeout
                if session <= now
                else min(now + self._idle_timeout, session)
            )
        self._watchdog = self._loop.call_at(deadline, self._watch)

    async def _perform_quietly(self, actions: Sequence[Action]) -> None:
        """Run what is left after the peer vanished: releasing the maildrop, never a commit."""
        for action in actions:
            if isinstance(action, Release):
                await self._storage.release(action.mailbox)

    async def _perform(self, actions: Sequence[Action]) -> None:
        for action in actions:
            match action:
                case Send(data):
                    if self._write(data):
                        await self._drain()
                case Authenticate(username, password):
                    login = self._storage.login(username, password, self._peer)
                    await self._logged_in("pass", await login)
                case AuthenticateApop(username, timestamp, digest):
                    login = self._storage.login_apop(username, timestamp, digest, self._peer)
                    await self._logged_in("apop", await login)
                case SaslStep(mechanism, response, first):
                    await self._sasl_step(mechanism, response, first=first)
                case SendMessage():
                    await self._send_message(action)
                case ListFolders(mailbox):
                    listing = await self._storage.list_folders(mailbox)
                    await self._perform(self._session.loaded(listing))
                case OpenFolder(mailbox, folder):
                    listed = await self._storage.list_folder(mailbox, folder)
                    await self._perform(self._session.loaded(listed))
                case ReadStructure(entry):
                    structure = await self._storage.mime_structure(entry)
                    await self._perform(self._session.loaded(structure))
                case Commit(mailbox, deletions, folders):
                    fault = await self._storage.commit(mailbox, deletions, folders)
                    committed = faults.committed(fault)
                    self.stats.deleted = len(deletions) if committed else 0
                    self.stats.outcome = "quit" if committed else "commit-failed"
                    await self._storage.release(mailbox)
                    await self._perform(self._session.commit_result(fault))
                case StartTLS():
                    await self._start_tls()
                case Release(mailbox):
                    await self._storage.release(mailbox)
                case Close():
                    if self.stats.outcome == "disconnected":
                        self.stats.outcome = "closed"
                    await self._drain()
                    return

    async def _logged_in(self, method: str, result: LoginResult) -> None:
        if isinstance(result, Snapshot):
            self.stats.user, self.stats.method = result.mailbox, method
        await self._perform(self._session.login_result(result))

    async def _drain(self) -> None:
        """Wait until the client has taken what was written; a client that takes nothing for the
        idle timeout (it stopped reading mid-message, say) is gone: nothing is committed."""
        self._flush()
        transport = self._writer.transport
        low_water = transport.get_write_buffer_limits()[0]
        if not transport.is_closing() and transport.get_write_buffer_size() <= low_water:
            # The socket took (nearly) everything: nothing to wait for, and no timer to arm and
            # cancel, which every pipelined window would pay for. A lost connection shows here
            # (the transport is closing) or at the next read.
            return
        try:
            # asyncio.timeout, not wait_for: no extra task, so a drain with nothing to wait for
            # returns without yielding to the loop. `_start_tls` relies on that: a yield would let
            # the client's ClientHello reach the reader's buffer before it is cleared.
            async with asyncio.timeout(self._idle_timeout):
                await self._writer.drain()
        except TimeoutError:
            self.stats.outcome = "write-timeout"
            raise _PeerGone("the client stopped reading") from None

    async def _sasl_step(self, mechanism: str, response: bytes | None, *, first: bool) -> None:
        """Run one step of the SASL exchange (RFC 5034 §4) and report it to the session."""
        if first:
            self._exchange = self._sasl(mechanism, self._session.tls_active)
        try:
            if self._exchange is None:
                step: sasl_mechanisms.Step = sasl_mechanisms.Refused()
            else:
                step = await self._exchange.step(response)
        except StoreError as fault:  # storage, or the token issuer's keys (`IssuerUnavailable`)
            log_event(logger, "sasl.unavailable", logging.WARNING, error=type(fault).__name__)
            self._exchange = None
            await self._perform(self._session.login_result(fault))
            return
        match step:
            case sasl_mechanisms.Challenge(data):
                await self._perform(self._session.sasl_challenge(data))
            case sasl_mechanisms.Granted(mailbox):
                self._exchange = None
                opened = await self._storage.open(mailbox)
                await self._logged_in(f"sasl:{mechanism.lower()}", opened)
            case sasl_mechanisms.Refused():
                self._exchange = None
                await self._perform(self._session.login_result(LoginRefused.DENIED))

    def _write(self, data: bytes) -> bool:
        """Queue `data` for the next flush; True once FLUSH_AT octets are queued (drain now)."""
        self._outgoing.append(data)
        self._outgoing_size += len(data)
        return self._outgoing_size >= FLUSH_AT

    def _flush(self) -> None:
        if not self._outgoing:
            return
        if self._outgoing_size < FLUSH_AT:
            self._writer.write(b"".join(self._outgoing))  # a pipelined window: one send
        else:
            # A message's chunk: each piece as it is, through a view, so that neither a join nor
            # the transport's slice of what the socket did not take copies a chunk again.
            for data in self._outgoing:
                self._writer.write(memoryview(data))
        self.stats.bytes_sent += self._outgoing_size
        self._outgoing.clear()
        self._outgoing_size = 0

    async def _send_message(self, action: SendMessage) -> None:
        """Stream one message (RFC 1939 §7 RETR/TOP), writing the +OK line only once the first
        chunk is in hand, so a storage fault can still be answered with -ERR."""
        stuffer = Stuffer(action.top_lines)
        chunks = self._storage.reader.chunks(action.message, action.top_lines, action.part)
        try:
            first = await anext(chunks, b"")
        except StoreError as fault:
            await self._perform(self._session.storage_failed(fault))
            return
        self._write(action.status)
        if action.part is not None:
            self.stats.parts += 1
        elif action.top_lines is None:
            # This message's first bytes are in hand: fetch the next ones' while it streams.
            self._storage.read_ahead_from(action.message, action.number)
            self.stats.retr += 1
        else:
            self.stats.top += 1
        try:
            chunk, first = first, b""
            while True:
                self._write(stuffer.feed(chunk))
                chunk = b""  # while the client takes the stuffed copy, hold no other
                await self._drain()  # back-pressure: read the next chunk only when sent
                if stuffer.done:
                    break
                chunk = await anext(chunks, b"")
                if not chunk:
                    break
        except StoreError as error:
            # Bytes are already on the wire: the multi-line response cannot be finished honestly.
            raise _PeerGone from error
        finally:
            await chunks.aclose()
        self._write(stuffer.finish())
        await self._perform(self._session.message_sent())

    async def _start_tls(self) -> None:
        context = self._tls_context()
        if context is None:
            raise _PeerGone("STLS offered without a certificate")
        await self._drain()
        # RFC 2595 §4 / CVE-2011-0411: plaintext that arrived after the STLS line must never be
        # read as commands once TLS is up. The session dropped what it had buffered; drop what the
        # stream reader holds too, synchronously, right before the handshake takes the socket.
        _discard_buffered(self._reader)
        await self._writer.start_tls(context)
        await self._perform(self._session.tls_started())


def _drop(writer: asyncio.StreamWriter) -> None:
    """End a connection whose client is gone or stopped reading, and free what it never took.

    Closing would keep the transport's buffer until the client reads it, and the kernel's send
    queue (an orphaned socket) for minutes of zero-window probes: a stalled client never reads.
    A zero linger time makes the close a reset, which discards both at once.
    """
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _discard_buffered(reader: asyncio.StreamReader) -> None:
    buffer = getattr(reader, "_buffer", None)
    if isinstance(buffer, bytearray):
        buffer.clear()
