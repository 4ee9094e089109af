"""SASL mechanisms on the daemon side (RFC 4422): each exchange turns client responses into
challenges until it grants a mailbox or refuses.

The POP3 session frames the exchange (RFC 5034: AUTH, "+ " continuations, base64, "*" to cancel);
the exchanges here do the work that needs storage, CPU or the network — password checks through
the Authenticator, SCRAM proofs, token validation — off the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from scramp import ScramException, ScramMechanism

from popdrop.auth.apop import new_timestamp
from popdrop.auth.authenticator import Authenticator
from popdrop.auth.identity import resolve_login
from popdrop.auth.scram import decoy_keys, decoy_name
from popdrop.auth.tokens import TokenValidator
from popdrop.faces.pop3 import MaildropStore
from popdrop.model import Mailbox


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send `data` as a continuation ("+ base64") and wait for the client's response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Granted:
    mailbox: Mailbox


@dataclass(frozen=True, slots=True)
class Refused:
    """Authentication failed (the session answers -ERR [AUTH])."""


Step = Challenge | Granted | Refused


class Exchange(Protocol):
    async def step(self, response: bytes | None) -> Step:
        """Advance with the client's response (None: no initial response was sent)."""
        ...


@dataclass(frozen=True, slots=True)
class Context:
    """What a mechanism may need about the connection and the deployment."""

    authenticator: Authenticator
    store: MaildropStore
    client: str
    default_domain: str
    tokens: TokenValidator | None
    # RFC 5929 tls-server-end-point: the PEM of the certificate this connection's handshake used,
    # or None without TLS.
    server_certificate: str | None
    # The deployment's key for the SCRAM verifiers of unknown names (POPDROP_DECOY_KEY).
    decoy_key: bytes


class Plain:
    """PLAIN (RFC 4616): authzid NUL authcid NUL password, in one response."""

    def __init__(self, context: Context) -> None:
        self._context = context

    async def step(self, response: bytes | None) -> Step:
        if response is None:
            return Challenge(b"")
        parts = response.split(b"\0")
        if len(parts) != 3:
            return Refused()
        try:
            authzid, authcid, password = (part.decode("utf-8") for part in parts)
        except UnicodeDecodeError:
            return Refused()
        if authzid and authzid.lower() != authcid.lower():
            return Refused()  # acting for another mailbox is not offered
        return await _password_step(self._context, authcid, password)


class Login:
    """LOGIN (draft-murchison-sasl-login): "Username:", then "Password:", each in plain text."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._username: str | None = None

    async def step(self, response: bytes | None) -> Step:
        if response is None:
            return Challenge(b"Username:")
        try:
            text = response.decode("utf-8")
        except UnicodeDecodeError:
            return Refused()
        if self._username is None:
            self._username = text
            return Challenge(b"Password:")
        return await _password_step(self._context, self._username, text)


async def _password_step(context: Context, username: str, password: str) -> Step:
    mailbox = await context.authenticator.authenticate(username, password, context.client)
    return Granted(mailbox) if mailbox is not None else Refused()


class Scram:
    """SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) with tls-server-end-point
    channel binding (RFC 5929). Three rounds: client-first -> server-first; client-final ->
    server-final (as a challenge, since RFC 5034 has no data-with-success); empty -> granted."""

    def __init__(self, context: Context, *, plus: bool) -> None:
        self._context = context
        binding = (
            ("tls-server-end-point", context.server_certificate)
            if context.server_certificate
            else None
        )
        mechanism = ScramMechanism("SCRAM-SHA-256-PLUS" if plus else "SCRAM-SHA-256")
        self._server = mechanism.make_server(self._keys, channel_binding=binding)
        self._mailbox: Mailbox | None = None
        self._account = ""  # whom a failure counts against: the name the client gave
        self._round = 0

    def _keys(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        """scramp's lookup (runs in a thread). An unknown mailbox, or one without a verifier,
        gets a decoy verifier of the same shape, stable per name across replicas and restarts
        (`decoy_keys`), so the exchange looks the same until the proof fails."""
        address = resolve_login(username, self._context.default_domain)
        self._account = address or decoy_name(username)
        found = self._context.store.credentials(address) if address else None
        mailbox = None if found is None else found.mailbox
        if mailbox is not None and mailbox.scram is not None:
            self._mailbox = mailbox
            keys = mailbox.scram
        else:
            keys = decoy_keys(self._context.decoy_key, self._account)
        return keys.salt, keys.stored_key, keys.server_key, keys.iterations

    async def step(self, response: bytes | None) -> Step:
        if response is None:  # no initial response: ask for client-first (RFC 5034 §4)
            return Challenge(b"") if self._round == 0 else Refused()
        self._round += 1
        try:
            if self._round == 1:
                text = response.decode("utf-8")
                await asyncio.to_thread(self._server.set_client_first, text)
                return Challenge(self._server.get_server_first().encode("utf-8"))
            if self._round == 2:
                try:
                    self._server.set_client_final(response.decode("utf-8"))
                except ScramException:
                    await _fail_slowly(self._context, self._account)
                    return Refused()
                if self._mailbox is None:
                    return Refused()
                return Challenge(self._server.get_server_final().encode("utf-8"))
            if self._round == 3 and response == b"" and self._mailbox is not None:
                return Granted(self._mailbox)
        except (ScramException, UnicodeDecodeError):
            return Refused()
        return Refused()


async def _fail_slowly(context: Context, account: str) -> None:
    """A wrong SCRAM proof or bearer token is a failed authentication of the mailbox it names,
    counted with USER/PASS's failures of that mailbox, with its penalty."""
    await context.authenticator.penalize(context.client, account)


class CramMd5:
    """CRAM-MD5 (RFC 2195): the server sends a fresh msg-id challenge; the client answers
    "user SP hex(HMAC-MD5(secret, challenge))". It needs the mailbox's shared (APOP) secret."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._challenge: str | None = None

    async def step(self, response: bytes | None) -> Step:
        if self._challenge is None:
            if response is not None:  # RFC 2195: the server speaks first; no initial response
                return Refused()
            self._challenge = new_timestamp(CHALLENGE_HOST)
            return Challenge(self._challenge.encode("ascii"))
        try:
            username, digest = (response or b"").decode("utf-8").rsplit(" ", 1)
        except (UnicodeDecodeError, ValueError):
            return Refused()
        authenticate = self._context.authenticator.authenticate_cram_md5
        mailbox = await authenticate(
            username, self._challenge, digest.lower(), self._context.client
        )
        return Granted(mailbox) if mailbox is not None else Refused()


# The host part of a CRAM-MD5 challenge (RFC 2195 §2: a msg-id); only its uniqueness matters.
CHALLENGE_HOST: Final = "popdrop"


class Bearer:
    """OAUTHBEARER (RFC 7628) and XOAUTH2: a JWT from the configured issuer names the mailbox.

    On failure both send an error challenge, the client answers it (RFC 7628 §3.2.3: a single
    0x01; XOAUTH2 clients send an empty line), and only then is the failure reported.
    """

    def __init__(
        self, context: Context, *, parse: Callable[[bytes], tuple[str, str] | None]
    ) -> None:
        self._context = context
        self._parse = parse
        self._failed = False

    async def step(self, response: bytes | None) -> Step:
        if self._failed:
            return Refused()
        if response is None:
            return Challenge(b"")
        parsed = self._parse(response)
        validator = self._context.tokens
        if parsed is None or validator is None:
            return Refused()
        user, token = parsed
        address = await asyncio.to_thread(validator.mailbox_for, token)
        claimed = resolve_login(user, self._context.default_domain) if user else address
        if address is not None and claimed == address:
            found = await asyncio.to_thread(self._context.store.credentials, address)
            if found is not None:
                return Granted(found.mailbox)
        await _fail_slowly(self._context, claimed or decoy_name(user) or address or "")
        self._failed = True
        return Challenge(json.dumps(_ERROR, separators=(",", ":")).encode())


_ERROR: Final[dict[str, Any]] = {"status": "invalid_token", "schemes": "bearer"}


def parse_oauthbearer(message: bytes) -> tuple[str, str] | None:
    """RFC 7628 §3.1: a gs2-header ("n,a=user,"), then 0x01-separated key=value pairs."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        return None
    header, separator, rest = text.partition("\x01")
    fields = header.split(",")
    if not separator or len(fields) < 2 or fields[0] not in ("n", "y"):
        return None
    user = fields[1][2:] if fields[1].startswith("a=") else ""
    pairs = dict(pair.partition("=")[::2] for pair in rest.split("\x01") if pair)
    scheme, _, token = pairs.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return user.replace("=2C", ",").replace("=3D", "="), token


def parse_xoauth2(message: bytes) -> tuple[str, str] | None:
    """Google's XOAUTH2: "user=" user 0x01 "auth=Bearer " token 0x01 0x01."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pairs = dict(pair.partition("=")[::2] for pair in text.split("\x01") if pair)
    scheme, _, token = pairs.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not pairs.get("user"):
        return None
    return pairs["user"], token


def enabled_mechanisms(*, tokens: bool, cram_md5: bool = False) -> tuple[str, ...]:
    """The mechanisms this deployment runs, strongest first (the session offers on each
    connection those that suit it: -PLUS under TLS, secret-carrying ones where USER is allowed)."""
    bearer = ("OAUTHBEARER", "XOAUTH2") if tokens else ()
    cram = ("CRAM-MD5",) if cram_md5 else ()
    return ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", *bearer, *cram, "PLAIN", "LOGIN")


def start(mechanism: str, context: Context) -> Exchange | None:
    """A new exchange for `mechanism` (already checked against what this connection offers)."""
    match mechanism:
        case "PLAIN":
            return Plain(context)
        case "LOGIN":
            return Login(context)
        case "SCRAM-SHA-256":
            return Scram(context, plus=False)
        case "SCRAM-SHA-256-PLUS":
            return Scram(context, plus=True)
        case "OAUTHBEARER":
            return Bearer(context, parse=parse_oauthbearer)
        case "XOAUTH2":
            return Bearer(context, parse=parse_xoauth2)
        case "CRAM-MD5":
            return CramMd5(context)
    return None
