"""The maildrop lease and the deletion it guards: RFC 1939 §8 exclusive access, shared by the POP3
daemon (a session holds it from login to QUIT) and the REST API (a message deletion holds it for
one commit), so both delete through the same crash-safe path and never at the same time.

A lease is kept by the heartbeat of the process that took it (docs/engine.md, "Exclusive access
across replicas"): a daemon keeps one heartbeat for all its sessions; an API deletion starts one of
its own for the length of its commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from popdrop.model import Address, MessageEntry


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A process's liveness in storage: alive until `until_ms` (epoch milliseconds), and each
    renewal extends it by `duration_ms`. Every lease the process holds lasts as long as it does,
    so a crashed daemon's maildrops are free again within `duration_ms`."""

    daemon: str
    until_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A session's hold on a maildrop (RFC 1939 §8 exclusive access across every replica), kept
    by the heartbeat of the daemon `daemon`. `token` is the fencing token: a commit under a lease
    someone else has taken since is refused."""

    mailbox: Address
    owner: str
    token: int
    daemon: str


@dataclass(frozen=True, slots=True)
class LeaseState:
    """Who holds a maildrop now (an administrator's view): the holder's session id, since when
    it holds it and when the hold ends unless its heartbeat is renewed (epoch milliseconds)."""

    holder: str
    since_ms: int
    until_ms: int


class MaildropLease(Protocol):
    def start_heartbeat(self, daemon: str, *, seconds: float) -> Heartbeat:
        """Start the heartbeat of the process `daemon` (an id used once), alive for `seconds`."""
        ...

    def end_heartbeat(self, heartbeat: Heartbeat) -> None:
        """Stop the heartbeat: the leases it still keeps are free at once."""
        ...

    def acquire_lease(self, address: Address, owner: str, heartbeat: Heartbeat) -> Lease | None:
        """Take the maildrop for `owner`, kept by `heartbeat`; None while another session whose
        process is alive holds it."""
        ...

    def release_lease(self, lease: Lease) -> bool:
        """Give the maildrop back; False when the lease had already passed to another session."""
        ...

    def commit_deletions(self, lease: Lease, entries: Sequence[MessageEntry]) -> None:
        """The UPDATE state (RFC 1939 §6): delete these entries of the lease's mailbox, and every
        object left unreferenced, under the lease (`LeaseLost` when it no longer holds: nothing
        was deleted). `CleanupPending` when only the objects' deletion failed."""
        ...
