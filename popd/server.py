"""The POP3 daemon: listeners on the plain port (with STLS) and the implicit-TLS port (RFC 8314)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from dataclasses import dataclass

from popd.connection import Connection
from popd.maildrops import Maildrops
from popd.signals import until_stop_signal
from popd.tls import server_context
from popdrop.logfmt import log_event
from popdrop.pop3.session import Session, SessionConfig
from popdrop.settings import PlaintextAuth, Settings
from popdrop.store import Store

logger = logging.getLogger("popd.server")

# How long a TLS handshake on the implicit-TLS port may take before the connection is dropped.
TLS_HANDSHAKE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The addresses the daemon actually listens on (ports resolved when 0 was asked for)."""

    host: str
    pop3_port: int
    pop3s_port: int | None


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Pop3Daemon:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._maildrops = Maildrops(
            store,
            lease_seconds=settings.lease_seconds,
            lease_wait_seconds=settings.lease_wait_seconds,
            read_ahead_bytes=settings.read_ahead_bytes,
        )
        self._tls: ssl.SSLContext | None = None
        if settings.tls_cert and settings.tls_key:
            self._tls = server_context(settings.tls_cert, settings.tls_key)
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> Endpoints:
        settings = self._settings
        plain = await asyncio.start_server(
            self._accept_plain, settings.host, settings.pop3_port, reuse_address=True
        )
        self._servers.append(plain)
        pop3s_port = None
        if self._tls is not None:
            secure = await asyncio.start_server(
                self._accept_tls,
                settings.host,
                settings.pop3s_port,
                reuse_address=True,
                ssl=self._tls,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
            )
            self._servers.append(secure)
            pop3s_port = secure.sockets[0].getsockname()[1]
        else:
            log_event(logger, "pop3s.disabled", logging.WARNING, reason="no certificate configured")
        endpoints = Endpoints(settings.host, plain.sockets[0].getsockname()[1], pop3s_port)
        log_event(
            logger,
            "popd.listening",
            host=endpoints.host,
            pop3=endpoints.pop3_port,
            pop3s=endpoints.pop3s_port,
        )
        return endpoints

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; give open sessions `grace` seconds, then cut them (uncommitted)."""
        for server in self._servers:
            server.close()
        if self._sessions:
            _, pending = await asyncio.wait(self._sessions, timeout=grace)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    def _plaintext_allowed(self, peer: str) -> bool:
        policy = self._settings.plaintext_auth
        return policy is PlaintextAuth.ALWAYS or (
            policy is PlaintextAuth.LOOPBACK and is_loopback(peer)
        )

    async def _accept_plain(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._serve(reader, writer, tls_active=False)

    async def _accept_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls_active=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls_active: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            peername = writer.get_extra_info("peername")
            peer = str(peername[0]) if peername else ""
            config = SessionConfig(
                tls_active=tls_active,
                stls_available=self._tls is not None and not tls_active,
                plaintext_allowed=self._plaintext_allowed(peer),
                bad_command_budget=self._settings.bad_command_budget,
            )
            connection = Connection(
                reader,
                writer,
                Session(config),
                self._maildrops,
                idle_timeout=self._settings.idle_timeout,
                tls_context=lambda: self._tls,
                peer=peer,
            )
            await connection.run()
        finally:
            self._sessions.discard(task)


async def serve_forever(settings: Settings) -> int:
    """`popdrop serve`: run until SIGTERM/SIGINT, then drain open sessions (ECS sends SIGTERM and
    waits stopTimeout seconds before SIGKILL)."""
    daemon = Pop3Daemon(settings, Store.from_settings(settings))
    await daemon.start()
    await until_stop_signal()
    log_event(logger, "popd.stopping")
    await daemon.stop(grace=settings.drain_seconds)
    return 0
