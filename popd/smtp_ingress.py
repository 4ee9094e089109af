"""The local stand-in for SES inbound: an SMTP listener (aiosmtpd) for `popdrop dev`.

It behaves like SES at the SMTP level: it refuses recipients that reach no mailbox at RCPT TO
(550; a mailbox, an alias, a plus-address or the domain's catch-all is accepted: the same
resolution ingest uses), enforces SES's message size limit (40 MiB; 552, by aiosmtpd's
data_size_limit), prepends the Return-Path and Received headers SES adds, stores the raw
message under the incoming prefix (SES's S3 action) and then runs the same ingest code with an
SES-shaped event (SES's Lambda action). It is the only code path that exists only for local mode.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from popd.listener import bound_socket
from popdrop.canonical import to_canonical
from popdrop.events import ses_event
from popdrop.faces.faults import StoreError
from popdrop.faces.ingest import IngestStore
from popdrop.ingest import MAX_MESSAGE_SIZE, TRACE_ALLOWANCE, ingest_ses_event, new_message_id
from popdrop.ingest.addressing import resolve
from popdrop.logfmt import log_event, now_ms
from popdrop.model import InvalidAddress, normalize_address

logger = logging.getLogger("popd.smtp")

# SES accepts messages up to 40 MiB including headers (SES developer guide, receiving quotas).
SES_MAX_MESSAGE_SIZE = MAX_MESSAGE_SIZE
SES_HOSTNAME = "inbound-smtp.local.popdrop"


class SesStandIn:
    """aiosmtpd handler: the hooks SES would run for a receipt rule with S3 then Lambda actions."""

    def __init__(self, store: IngestStore, max_size: int) -> None:
        self._store = store
        self._max_size = max_size

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            mailbox = normalize_address(address)
            resolution = await asyncio.to_thread(resolve, self._store, [mailbox])
        except InvalidAddress:
            return "553 5.1.3 Invalid recipient address"
        except StoreError:
            return "451 4.3.0 Temporary failure, try again later"
        if not resolution.deliveries:
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(mailbox)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message_id = new_message_id()
        arrived = now_ms()
        trace = _ses_trace_headers(envelope, session, message_id)
        data = to_canonical(trace + raw)
        if len(data) > self._max_size + TRACE_ALLOWANCE:
            # Bare LFs inside SMTP lines become CRLF in the stored form: refused now, rather than
            # accepted and then quarantined as too large by ingest.
            return "552 5.3.4 Message too big once its line ends are CRLF"
        try:
            await asyncio.to_thread(self._store.put_incoming, message_id, data)
            event = ses_event(
                message_id,
                envelope.rcpt_tos,
                timestamp_ms=arrived,
                source=envelope.mail_from or "",
            )
            await asyncio.to_thread(ingest_ses_event, self._store, event)
        except StoreError:
            return "451 4.3.0 Temporary failure, try again later"
        log_event(logger, "smtp.accepted", message_id=message_id, recipients=len(envelope.rcpt_tos))
        return f"250 2.0.0 Ok {message_id}"


def _ses_trace_headers(envelope: Envelope, session: SmtpSession, message_id: str) -> bytes:
    """Return-Path and Received (RFC 5321 §4.4), one item per line: each item comes from one
    SMTP command line, which aiosmtpd bounds at 512 octets (RFC 5321 §4.5.3.1.4), so no line
    reaches RFC 5322 §2.1.1's 998.

    The "for" clause names the recipient of this copy. One stored object serves every recipient
    of the message, so it names the recipient only when there is one: never the others (Bcc and
    plus-tags included)."""
    peer: Any = session.peer
    peer_ip = peer[0] if isinstance(peer, tuple) else str(peer)
    helo = session.host_name or "unknown"
    date = email.utils.format_datetime(datetime.datetime.now(datetime.UTC))
    received = [f"Received: from {helo}", f" ({helo} [{peer_ip}])"]
    received.append(f" by {SES_HOSTNAME} with SMTP id {message_id}")
    if len(envelope.rcpt_tos) == 1:
        received.append(f" for <{envelope.rcpt_tos[0]}>")
    received[-1] += ";"
    lines = [f"Return-Path: <{envelope.mail_from or ''}>", *received, f" {date}", ""]
    return "\r\n".join(lines).encode("utf-8", "replace")


async def start_smtp(
    store: IngestStore, host: str, port: int, *, max_size: int = SES_MAX_MESSAGE_SIZE
) -> asyncio.Server:
    """Listen for SMTP on host:port (0 picks a free port) in the running loop; messages over
    `max_size` octets are refused with 552 (RFC 5321 §4.5.3.1.10, advertised by EHLO SIZE)."""
    handler = SesStandIn(store, max_size)
    return await asyncio.get_running_loop().create_server(
        lambda: SMTP(
            handler,
            hostname=SES_HOSTNAME,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
        ),
        sock=bound_socket(host, port),  # a port in use is a ListenError, like the daemon's
    )
