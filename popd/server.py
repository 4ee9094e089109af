"""The POP3 daemon: listeners on the plain port (with STLS) and the implicit-TLS port (RFC 8314)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets as random_secrets
import ssl
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

from popd import sasl
from popd.certificates import (
    CertificateError,
    TlsCredentials,
    certificate_source,
)
from popd.connection import Connection
from popd.listener import Listener
from popd.maildrops import Maildrops
from popd.signals import StopSignals
from popdrop.auth.apop import new_timestamp
from popdrop.auth.authenticator import Authenticator
from popdrop.auth.penalty import ConnectionRate
from popdrop.auth.tokens import OAuthConfig, TokenValidator
from popdrop.faces.faults import StoreError
from popdrop.faces.pop3 import MaildropStore
from popdrop.faces.secrets import SecretReader
from popdrop.logfmt import log_event
from popdrop.pop3 import replies
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.replies import ResponseCode
from popdrop.pop3.session import Session
from popdrop.settings import PlaintextAuth, Settings

logger = logging.getLogger("popd.server")
T = TypeVar("T")

# Threads for storage calls; the store's connection pool has as many connections.
IO_THREADS = 64

# The name in the greeting, the sign-off and APOP timestamps: the service's, not the task's.
HOSTNAME = "popdrop"
# The reply to a connection over the per-address limit, before any greeting (RFC 3206 §4: a
# temporary condition; the client may try again once its other sessions end).
TOO_MANY_SESSIONS = replies.err("Too many sessions from your address.", ResponseCode.SYS_TEMP)
TOO_MANY_LOGGING_IN = replies.err(
    "Too many connections logging in from your address.", ResponseCode.SYS_TEMP
)


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
    def __init__(
        self, settings: Settings, store: MaildropStore, *, secrets: Callable[[], SecretReader]
    ) -> None:
        """`secrets` makes the reader of a certificate kept in Secrets Manager
        (`POPDROP_TLS_SECRET`); it is called only when one is configured."""
        self._settings = settings
        self._store = store
        self._authenticator = Authenticator(store, settings)
        self._maildrops = Maildrops(
            store,
            self._authenticator,
            lease_seconds=settings.lease_seconds,
            lease_wait_seconds=settings.lease_wait_seconds,
            read_ahead_bytes=settings.read_ahead_bytes,
            stream_buffer_bytes=settings.stream_buffer_bytes,
            login_delay=settings.login_delay,
            folder_logins=settings.pop4,
            listing_cache_entries=settings.listing_cache_entries,
        )
        self._tokens = _token_validator(settings)
        self._decoy_key = _decoy_key(settings)
        self._mechanisms = sasl.enabled_mechanisms(
            tokens=self._tokens is not None, cram_md5=settings.cram_md5
        )
        self._certificates = certificate_source(settings, secrets)
        self._credentials: TlsCredentials | None = None
        self._tls: ssl.SSLContext | None = None
        self._certificate: str | None = None
        self._background: set[asyncio.Task[None]] = set()  # certificate reloads and polls
        self._connections = ConnectionRate(settings.connection_rate, settings.connection_burst)
        self._listeners: list[Listener] = []
        self._sessions: set[asyncio.Task[None]] = set()
        self._per_address: dict[str, set[Session]] = {}  # open sessions per client address
        self._cutting = False  # the drain is over: stop() cancels the sessions left

    async def refresh_tls(self) -> None:
        """Load the certificate again if its source has a new one: new connections and STLS use
        it, sessions already under TLS keep theirs. A failure keeps the pair in use."""
        source = self._certificates
        if source is None:
            return
        loaded = self._credentials.version if self._credentials else None
        try:
            fresh = await _in_daemon_thread(partial(source.load, loaded))
        except (CertificateError, OSError, StoreError) as error:  # ssl.SSLError is an OSError
            if self._credentials is None:
                raise CertificateError(f"TLS certificate from {source.name}: {error}") from error
            log_event(
                logger, "tls.reload_failed", logging.ERROR, source=source.name, error=str(error)
            )
            return
        if fresh is not None:
            self._credentials, self._tls, self._certificate = fresh, fresh.context, fresh.leaf
            log_event(logger, "tls.loaded", source=source.name, version=fresh.version)

    def reload_tls(self) -> None:
        """SIGHUP: refresh the certificate in the background (the read may take a moment)."""
        self._in_background(self.refresh_tls())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _poll_certificate(self, interval: float) -> None:
        """A secret has versions but no way to tell popd it changed: look every `interval`."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh_tls()

    async def start(self) -> Endpoints:
        # Every boto3 call blocks a thread (a read-ahead holds several per session): asyncio's
        # default pool of min(32, CPUs + 4) threads would queue sessions behind each other.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="popd-io")
        )
        settings = self._settings
        await self.refresh_tls()  # raises CertificateError when a configured one cannot be had
        await self._maildrops.start()
        if settings.tls_secret:
            self._in_background(self._poll_certificate(settings.tls_secret_poll_seconds))
        trusted = settings.proxy_trusted_networks
        admit = self._connections.allow
        plain = Listener(self._accept_plain, tls=None, trusted_proxies=trusted, admit=admit)
        self._listeners.append(plain)
        pop3_port = await plain.start(settings.host, settings.pop3_port)
        pop3s_port = None
        if self._tls is not None:
            secure = Listener(
                self._accept_tls, tls=lambda: self._tls, trusted_proxies=trusted, admit=admit
            )
            self._listeners.append(secure)
            pop3s_port = await secure.start(settings.host, settings.pop3s_port)
        else:
            log_event(logger, "pop3s.disabled", logging.WARNING, reason="no certificate configured")
        endpoints = Endpoints(settings.host, pop3_port, pop3s_port)
        log_event(
            logger,
            "popd.listening",
            host=endpoints.host,
            event_loop=type(asyncio.get_running_loop()).__module__.partition(".")[0],
            pop3=endpoints.pop3_port,
            pop3s=endpoints.pop3s_port,
            proxy_protocol_from=[str(network) for network in trusted],
        )
        return endpoints

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; give open sessions `grace` seconds, then cut them (uncommitted)."""
        for task in list(self._background):
            task.cancel()
        for listener in self._listeners:
            await listener.close()
        if self._sessions:
            _, pending = await asyncio.wait(self._sessions, timeout=grace)
            self._cutting = True
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        await self._maildrops.stop()

    def _sasl_context(self, peer: str, tls: bool) -> sasl.Context:
        return sasl.Context(
            authenticator=self._authenticator,
            store=self._store,
            client=peer,
            default_domain=self._settings.default_domain,
            tokens=self._tokens,
            server_certificate=self._certificate if tls else None,
            decoy_key=self._decoy_key,
        )

    def _plaintext_allowed(self, peer: str) -> bool:
        policy = self._settings.plaintext_auth
        return policy is PlaintextAuth.ALWAYS or (
            policy is PlaintextAuth.LOOPBACK and is_loopback(peer)
        )

    async def _accept_plain(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        await self._serve(reader, writer, peer, tls_active=False)

    async def _accept_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        await self._serve(reader, writer, peer, tls_active=True)

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        *,
        tls_active: bool,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        settings = self._settings
        sessions = self._per_address.get(peer) or set()
        if len(sessions) >= settings.max_sessions_per_address:
            await _refuse(writer, peer, TOO_MANY_SESSIONS, "too-many-sessions")
            return
        logging_in = sum(1 for session in sessions if not session.logged_in)
        if logging_in >= settings.max_unauthenticated_per_address:
            await _refuse(writer, peer, TOO_MANY_LOGGING_IN, "too-many-logging-in")
            return
        session = Session(self._session_config(peer, tls_active=tls_active))
        self._sessions.add(task)
        self._per_address[peer] = sessions
        sessions.add(session)
        try:
            connection = Connection(
                reader,
                writer,
                session,
                self._maildrops,
                idle_timeout=settings.idle_timeout,
                max_session=settings.max_session_seconds,
                login_timeout=settings.login_timeout,
                tls_context=lambda: self._tls,
                sasl=lambda mechanism, tls: sasl.start(mechanism, self._sasl_context(peer, tls)),
                peer=peer,
            )
            try:
                await connection.run()
            except asyncio.CancelledError:
                if not self._cutting:
                    raise
                # The drain's cut, which the connection has handled (nothing committed, logged):
                # the task ends normally, not as a cancelled client callback, which asyncio
                # (3.11) would report at ERROR with a CancelledError traceback.
                task.uncancel()
        finally:
            self._sessions.discard(task)
            sessions.discard(session)
            if not sessions:
                del self._per_address[peer]

    def _session_config(self, peer: str, *, tls_active: bool) -> SessionConfig:
        settings = self._settings
        return SessionConfig(
            hostname=HOSTNAME,
            tls_active=tls_active,
            stls_available=self._tls is not None and not tls_active,
            plaintext_allowed=self._plaintext_allowed(peer),
            bad_command_budget=settings.bad_command_budget,
            sasl_mechanisms=self._mechanisms,
            max_auth_failures=settings.max_auth_failures,
            apop_timestamp=new_timestamp(HOSTNAME) if settings.apop else None,
            login_delay=settings.login_delay,
            pop4=settings.pop4,
        )


async def _refuse(writer: asyncio.StreamWriter, peer: str, reply: bytes, reason: str) -> None:
    """Turn away a connection over a per-address limit: one -ERR line, then close."""
    log_event(logger, "pop3.refused", logging.WARNING, peer=peer, reason=reason)
    writer.write(reply)
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.drain()
    writer.close()


async def _in_daemon_thread(call: Callable[[], T]) -> T:
    """`call()` in a daemon thread: unlike the loop's executor, whose threads the interpreter
    joins at exit, a certificate read stuck on AWS then never holds up a stop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: Exception | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(cast(T, result))

    def run() -> None:
        result: T | None = None
        error: Exception | None = None
        try:
            result = call()
        except Exception as failure:  # handed to the awaiting coroutine
            error = failure
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="popd-tls", daemon=True).start()
    return await done


def _decoy_key(settings: Settings) -> bytes:
    """POPDROP_DECOY_KEY, or a random key for this process, with a warning: a name's decoy salt
    then differs between replicas and restarts, which a prober comparing them could notice."""
    configured = settings.decoy_key.get_secret_value()
    if configured:
        return configured.encode("utf-8")
    log_event(
        logger,
        "auth.decoy_key_random",
        logging.WARNING,
        reason="POPDROP_DECOY_KEY is not set: unknown names' SCRAM salts are per process",
    )
    return random_secrets.token_bytes(32)


def _token_validator(settings: Settings) -> TokenValidator | None:
    if not settings.oauth_issuer:
        return None
    issuer = settings.oauth_issuer.rstrip("/")
    return TokenValidator(
        OAuthConfig(
            issuer=issuer,
            audience=settings.oauth_audience,
            jwks_url=settings.oauth_jwks_url or f"{issuer}/.well-known/jwks.json",
            mailbox_claim=settings.oauth_mailbox_claim,
        )
    )


async def serve_forever(
    settings: Settings, store: MaildropStore, secrets: Callable[[], SecretReader]
) -> int:
    """`popdrop serve`: run until SIGTERM/SIGINT, then drain open sessions (ECS sends SIGTERM and
    waits stopTimeout seconds before SIGKILL). The signal handlers are in place before any
    start-up work, so a stop during start-up (reading the certificate, binding) is honoured."""
    with StopSignals() as signals:
        daemon = Pop3Daemon(settings, store, secrets=secrets)
        signals.on_reload = daemon.reload_tls
        started = await signals.unless_stopped(daemon.start())
        if started is not None:
            await signals.stopping.wait()
        log_event(logger, "popd.stopping")
        await daemon.stop(grace=settings.drain_seconds)
    return 0
