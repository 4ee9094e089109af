"""What one connection carries from command to command, whatever maildrop it opens (aiosmtpd's
`Session`; the maildrop's own state is a `Transaction`): TLS, UTF-8 mode, the budgets, a login in
progress, and what the connection therefore offers (CAPA, SASL mechanisms, LANG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from popdrop.pop3 import replies
from popdrop.pop3.config import SessionConfig

# Mechanisms that hand the server a reusable secret (a password or a bearer token): like USER/PASS,
# only where plaintext login is permitted.
SECRET_CARRYING: Final = frozenset({"PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"})
# docs/pop4.md: what CAPA says (and the greeting shows as "POP4 rev0") when POP4 is on.
POP4_CAPABILITY: Final = "XPOP4 rev0"
# RFC 6856 §3: the one language popdrop's replies are written in.
DEFAULT_LANGUAGE: Final = "en"


@dataclass(slots=True)
class ConnectionState:
    config: SessionConfig
    tls_active: bool
    utf8: bool = False  # RFC 6856 §2: UTF-8 mode, entered with the UTF8 command
    bad_commands: int = 0
    auth_failures: int = 0
    username: str | None = None  # named by USER, for the PASS that follows
    mechanism: str | None = None  # the SASL exchange under way

    def forget_login(self) -> None:
        """A login attempt ended (or STLS restarted the dialogue): USER and AUTH start afresh."""
        self.username = self.mechanism = None

    def plaintext_permitted(self) -> bool:
        return self.tls_active or self.config.plaintext_allowed

    def offered_mechanisms(self) -> list[str]:
        """RFC 5034 §6 / RFC 4422 §3.1: the configured mechanisms this connection can use.
        Channel binding (-PLUS, RFC 5802 §6) needs TLS; secret-carrying ones need what USER
        needs."""
        return [
            name
            for name in self.config.sasl_mechanisms
            if (self.tls_active or not name.endswith("-PLUS"))
            and (self.plaintext_permitted() or name not in SECRET_CARRYING)
        ]

    def capabilities(self) -> list[str]:
        """RFC 2449 §5: the same list in both states, since "capabilities available in the
        AUTHORIZATION state MUST be announced in both states" (§6.7 and §6.8 values included).
        USER and the secret-carrying SASL mechanisms show only where plaintext login is allowed
        on this connection; STLS where a certificate is configured and TLS is not yet active,
        after login too, though it is then refused (RFC 2595 §4)."""
        config = self.config
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
        if self.plaintext_permitted():
            capabilities.append("USER")
        if mechanisms := self.offered_mechanisms():
            capabilities.append("SASL " + " ".join(mechanisms))
        if config.stls_available and not self.tls_active:
            capabilities.append("STLS")
        if config.pop4:
            capabilities.append(POP4_CAPABILITY)  # RFC 2449 §5: an X- capability is our own
        capabilities.append("IMPLEMENTATION popdrop")
        return capabilities


def language(tag: str | None) -> bytes:
    """RFC 6856 §3 LANG: without an argument, list the languages; with a language range, switch
    to the language it matches (RFC 4647 §3.4 lookup: "en-GB" falls back to "en", "*" is the
    default), or -ERR when none does."""
    if tag is None:
        status = replies.ok("Language listing follows.")
        return replies.multiline(status, [f"{DEFAULT_LANGUAGE} English"])
    lowered = tag.lower()
    if lowered == "*" or lowered.split("-", 1)[0] == DEFAULT_LANGUAGE:
        return replies.ok(f"{DEFAULT_LANGUAGE} Language is English.")
    return replies.err("Invalid language.")
