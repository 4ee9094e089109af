"""Everything mail-in may ask of storage: `popdrop.ingest` (the Lambda, the reconcile sweep,
`popdrop deliver`) and the local SMTP stand-in.

The exactly-once contract lives behind this face (docs/ingest.md): `begin_ingest` creates the
message's ingest record and holds its object, `deliver` and `quarantine` file it into one mailbox
with conditions that make a replay a duplicate, `finish_ingest` marks it done and lets the object
go.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from popdrop.model import Address, FolderId, MessageEntry, Policy, Quarantined, Route


class Outcome(enum.StrEnum):
    """Where one recipient's copy of a message went."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # filed there before: a replayed or concurrent event
    UNKNOWN = "unknown"  # no such mailbox (or not an address at all)
    QUARANTINED = "quarantined"  # kept out of the maildrop, with a reason
    DROPPED = "dropped"  # the mailbox's policy dropped it (the reason is logged)


class Filed(enum.Enum):
    """What filing one entry did."""

    FILED = "filed"  # written by this call
    DUPLICATE = "duplicate"  # the uid was filed in this mailbox before (maildrop or quarantine)
    OVER_MESSAGES = "over_messages"  # delivering would exceed the mailbox's message quota
    OVER_OCTETS = "over_octets"  # ... or its octet quota


class IngestStatus(enum.StrEnum):
    INGESTING = "ingesting"  # a run began; its hold on the object is taken
    DONE = "done"  # every recipient was handled and the hold released


@dataclass(frozen=True, slots=True)
class IngestRecord:
    status: IngestStatus
    object_key: str
    recipients: tuple[str, ...]  # the recipients a run began with, so a sweep can resume it
    started_at: int  # epoch milliseconds


@dataclass(frozen=True, slots=True)
class RecordStep:
    """What a delivery's own transaction also does to the message's ingest record, so that a
    message for N mailboxes costs N transactions: the first delivery `begins` the record (and takes
    ingest's hold, unless it also finishes), the last one `finishes` it (`outcomes`: the counts of
    every mailbox, this one included) and releases the hold."""

    message_id: str
    recipients: tuple[str, ...]  # as the run began with them
    now_ms: int
    begins: bool
    outcomes: Mapping[Outcome, int] | None  # None: the record is left `ingesting`


@dataclass(frozen=True, slots=True)
class IncomingObject:
    key: str
    size: int
    modified_ms: int  # LastModified, epoch milliseconds


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message of the arrivals queue: its handle, to settle or defer it, and its body (S3's
    `Object Created` event from EventBridge, unparsed: the sweep tells good from bad)."""

    receipt: str
    body: str


@dataclass(frozen=True, slots=True)
class Directory:
    """What a lookup found: open mailboxes, their policies, and routes by address."""

    mailboxes: frozenset[Address] = frozenset()
    policies: Mapping[Address, Policy] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)

    def policy(self, address: Address) -> Policy:
        return self.policies.get(address, Policy())

    def merged(self, other: Directory) -> Directory:
        return Directory(
            self.mailboxes | other.mailboxes,
            {**self.policies, **other.policies},
            {**self.routes, **other.routes},
        )


class IngestStore(Protocol):
    """Mail-in's storage face."""

    @property
    def bucket(self) -> str: ...

    @property
    def incoming_prefix(self) -> str:
        """Where SES's S3 action writes raw messages (`<prefix><message id>`)."""
        ...

    # The incoming prefix.

    def incoming_key(self, message_id: str) -> str: ...

    def put_incoming(self, message_id: str, data: bytes) -> str:
        """Store a raw message as SES's S3 action does; its key."""
        ...

    def rewrite_incoming(self, key: str, data: bytes) -> None:
        """Replace a stored message with its canonical form (docs/ingest.md)."""
        ...

    def read_head(self, key: str, length: int) -> tuple[bytes, int]:
        """The first `length` octets (fewer when the object is shorter) and the object's size."""
        ...

    def read_tail(self, key: str, length: int) -> bytes:
        """The last `length` octets (fewer when the object is shorter)."""
        ...

    def read_whole(self, key: str) -> bytes: ...

    def list_incoming(self) -> Iterator[IncomingObject]: ...

    # The arrivals queue (`popdrop.store.arrivals`): what arrived under the prefix, for the sweep.

    @property
    def has_arrivals(self) -> bool:
        """Whether an arrivals queue is configured (`POPDROP_ARRIVALS_QUEUE`)."""
        ...

    def receive_arrivals(self) -> list[Arrival]:
        """Up to ten messages, hidden from other receivers while this sweep runs."""
        ...

    def settle_arrivals(self, receipts: Sequence[str]) -> None:
        """Delete messages the sweep handled."""
        ...

    def defer_arrivals(self, due: Sequence[tuple[str, int]]) -> None:
        """(receipt, seconds): show each message again when it is due."""
        ...

    def sweep_checkpoint(self, name: str) -> int | None:
        """How far (epoch ms) sweep `name`'s last complete run got; None before its first."""
        ...

    def save_sweep_checkpoint(self, name: str, swept_to: int) -> None: ...

    # Recipients.

    def lookup(self, addresses: Iterable[str]) -> Directory:
        """Profiles, policies and routes of `addresses` (`@domain` ones: routes only)."""
        ...

    # Exactly-once filing.

    def ingest_record(self, message_id: str) -> IngestRecord | None: ...

    def begin_ingest(
        self, message_id: str, object_key: str, now_ms: int, recipients: Iterable[str]
    ) -> IngestStatus | None:
        """Create the record and hold the object; None when this call did, else the status an
        earlier (or concurrent) run left."""
        ...

    def finish_ingest(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> bool:
        """Mark the record done and release the hold; False when another run already did."""
        ...

    def record_unrouted(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> None:
        """Record a message that reached no mailbox: done, without a hold."""
        ...

    def deliver_and_record(self, entry: MessageEntry, policy: Policy, step: RecordStep) -> bool:
        """`deliver` and `step` in one transaction, all or nothing; False when nothing was written
        (a record exists or is not `ingesting`, the uid is filed, the quota or a closing mailbox
        refuses): then `begin_ingest`, `deliver` and `finish_ingest` tell those cases apart."""
        ...

    def deliver(self, entry: MessageEntry, policy: Policy) -> Filed:
        """File the entry into its mailbox's maildrop unless that exceeds the policy's quota;
        raises `MailboxNotFound` when the mailbox is gone."""
        ...

    def quarantine(self, quarantined: Quarantined) -> Filed:
        """File the entry into its mailbox's quarantine; raises `MailboxNotFound`."""
        ...

    def folder_for_tag(self, address: Address, tag: str) -> FolderId:
        """The POP4 folder a message to `user+tag@` is filed in (docs/pop4.md): the user's folder
        named `tag` (case-insensitively), or INBOX when there is none."""
        ...
