"""A session's configuration: what the operator and the listener decide, fixed per connection."""

from __future__ import annotations

import re
from dataclasses import dataclass

from popdrop.pop3.lines import DEFAULT_MAX_LINE

# The greeting and sign-off carry the host name: printable ASCII without spaces, like a DNS name.
_HOSTNAME_RE = re.compile(r"[\x21-\x7e]{1,253}")
# RFC 1939 §7: the APOP timestamp is a msg-id, "<" printable ASCII without spaces ">".
_TIMESTAMP_RE = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,200}>")
# RFC 5034 §4 bounds AUTH's command line, not the responses: an OAUTHBEARER response carries a
# JWT of a few KiB, base64-encoded. Responses may be this long, and so may an AUTH line with an
# initial response (mpop, Thunderbird and others send the token there, beyond RFC 5034's 255).
SASL_MAX_LINE = 24 * 1024


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
    # suit it (`ConnectionState.offered_mechanisms`).
    sasl_mechanisms: tuple[str, ...] = ()
    # Failed logins (USER/PASS, APOP or AUTH) one connection may make before it is closed.
    max_auth_failures: int = 3
    # The POP4 extension (docs/pop4.md): folders and partial retrieval. Off: nothing of it shows
    # (greeting, CAPA) and its commands are unknown.
    pop4: bool = False

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

    @property
    def authorization_max_line(self) -> int:
        """Before login, lines may be as long as a SASL response where AUTH is on offer; the
        session itself refuses any other command line over `max_line` (RFC 2449 §4)."""
        return max(self.max_line, SASL_MAX_LINE) if self.sasl_mechanisms else self.max_line
