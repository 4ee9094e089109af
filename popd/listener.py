"""Accepting connections: the PROXY protocol header from trusted load balancers, then TLS.

asyncio's `start_server` starts reading a socket as soon as it accepts it, so on the implicit-TLS
port a PROXY header and the ClientHello behind it would land in one buffer and the handshake would
hang. Here the header is read off the raw socket *exactly* (its length is known octet by octet from
`popdrop.proxy_protocol.parse`), and only then is the socket handed to the loop, with TLS if the
port has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

from popd.inline_reader import InlineReader
from popdrop.logfmt import log_event
from popdrop.pop3.replies import ResponseCode, err
from popdrop.proxy_protocol import ProxyHeaderError, parse

logger = logging.getLogger("popd.listener")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (reader, writer, the client's address: from the PROXY header when one was trusted)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]

# A trusted load balancer sends its header at once; one that does not within this is broken.
PROXY_HEADER_TIMEOUT = 5.0
TLS_HANDSHAKE_TIMEOUT = 30.0
TOO_MANY_CONNECTIONS = err(
    "Too many connections from your address; try again later.", ResponseCode.SYS_TEMP
)
# Stream buffer limit: the session bounds command lines itself; this bounds one read.
STREAM_LIMIT = 65536
# The kernel's send buffer per connection. Left alone, Linux grows it up to tcp_wmem's maximum
# (4 MiB) for a fast client, and a client that then stops reading parks all of it, per session,
# in memory the container is charged for (docs/engine.md, "Memory per session"). Set, it is fixed
# (Linux doubles the figure for its bookkeeping: 512 KiB), which still fills 400 Mbit/s at 10 ms.
SEND_BUFFER = 256 * 1024


class ListenError(Exception):
    """A port cannot be listened on (in use, not permitted, no such address): an operator's
    problem, said in one line."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {error.strerror or error}")


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (0: a free port), ready to listen; ListenError if not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ListenError(host, port, error) from error
    return sock


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


class HealthProbe(Exception):
    """A trusted load balancer's own connection (PROXY v2 LOCAL), or one it closed before saying
    anything: a health check, answered by accepting it, and closed without a session or a log
    line (NLB probes every target every few seconds)."""


async def read_proxy_header(sock: socket.socket) -> str | None:
    """Read exactly one PROXY header off `sock`; the client address it names, if any. Raises
    HealthProbe for a LOCAL header or a connection closed before its first octet."""
    loop = asyncio.get_running_loop()
    data = b""
    while True:
        decided = parse(data)
        if not isinstance(decided, int):
            if decided.local:
                raise HealthProbe
            return decided.source[0] if decided.source else None
        chunk = await loop.sock_recv(sock, decided - len(data))
        if not chunk and not data:
            raise HealthProbe
        if not chunk:
            raise ProxyHeaderError("connection closed inside the PROXY header")
        data += chunk


class Listener:
    """One listening port: accept, optionally read a PROXY header, optionally wrap in TLS."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls: Callable[[], ssl.SSLContext | None] | None,
        trusted_proxies: Sequence[Network],
        admit: Callable[[str], bool] = lambda client: True,
    ) -> None:
        self._handler = handler
        self._admit = admit
        self._tls = tls
        self._trusted = tuple(trusted_proxies)
        self._socket: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._opening: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Bind and start accepting; returns the port (resolved when 0 was asked for)."""
        listening = bound_socket(host, port)
        listening.listen(socket.SOMAXCONN)
        listening.setblocking(False)
        self._socket = listening
        self._accepting = asyncio.create_task(self._accept_forever(listening))
        return int(listening.getsockname()[1])

    async def close(self) -> None:
        """Stop accepting (connections already handed to the handler run on)."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        for task in list(self._opening):
            task.cancel()
        if self._socket is not None:
            self._socket.close()

    async def _accept_forever(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, address = await loop.sock_accept(listening)
            except OSError as error:  # EMFILE and friends: back off rather than spin
                log_event(logger, "accept.failed", logging.WARNING, error=str(error))
                await asyncio.sleep(0.1)
                continue
            # Replies to pipelined commands are small writes in a row: without TCP_NODELAY,
            # Nagle holds the second until the client's delayed ACK (40 ms on Linux). asyncio
            # sets it itself only on sockets created with proto=IPPROTO_TCP, which ours are not.
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            task = asyncio.create_task(self._open(connection, str(address[0])))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, connection: socket.socket, peer: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            if is_trusted(peer, self._trusted):
                named = await asyncio.wait_for(read_proxy_header(connection), PROXY_HEADER_TIMEOUT)
                peer = named or peer
            if not self._admit(peer):
                # Refused before any TLS work. On the plain port the client can be told why
                # (RFC 3206 [SYS/TEMP]: come back later); on the TLS port it can only be closed.
                if self._tls is None:
                    await loop.sock_sendall(connection, TOO_MANY_CONNECTIONS)
                raise ConnectionRefusedError("connection rate limit")
            context = self._tls() if self._tls is not None else None
            if self._tls is not None and context is None:
                raise ProxyHeaderError("TLS port without a certificate")
            reader = InlineReader(limit=STREAM_LIMIT)

            def connected(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> Awaitable[None]:
                return self._handler(reader, writer, peer)

            protocol = asyncio.StreamReaderProtocol(reader, connected)
            await loop.connect_accepted_socket(
                lambda: protocol,
                connection,
                ssl=context,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if context else None,
            )
        except HealthProbe:
            connection.close()
        except (ProxyHeaderError, TimeoutError, OSError, ssl.SSLError) as error:
            log_event(
                logger, "connection.refused", peer=peer, reason=str(error) or type(error).__name__
            )
            connection.close()
