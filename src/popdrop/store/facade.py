"""`Store`: the one object the daemon, the ingest function and the API use for S3 + DynamoDB.

Synchronous (the daemon calls it from a thread pool); boto3 clients are thread-safe. Mailbox
addresses are normalised here (`model.normalize_address`, which raises `InvalidAddress`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from popdrop.model import AppPassword, Mailbox, MessageEntry, ScramKeys, normalize_address
from popdrop.store import gc, resources
from popdrop.store.app_passwords import AppPasswords
from popdrop.store.aws import aws_errors, batched
from popdrop.store.errors import CleanupPending, StoreError
from popdrop.store.incoming import Incoming
from popdrop.store.intake import Intake
from popdrop.store.lease import Lease, Leases
from popdrop.store.logins import Logins
from popdrop.store.mailboxes import Mailboxes
from popdrop.store.messages import ENTRIES_PER_TRANSACTION, Messages
from popdrop.store.objects import ObjectBody, Objects
from popdrop.store.quarantine import Quarantine
from popdrop.store.references import release_unreferenced, unreferenced
from popdrop.store.routes import Routes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from popdrop.settings import Settings

# The daemon runs many sessions' storage calls at once; botocore's default pool of 10 connections
# per client would queue them.
_MAX_POOL_CONNECTIONS: Final = 64
# botocore's "standard" retry mode retries throttling, 5xx and transport errors with exponential
# backoff and jitter (base 0.5 s, capped at 20 s) and a client-wide retry quota; five attempts bound
# a failing call to a few seconds before the store raises `StorageUnavailable`. Transaction
# conflicts, which botocore does not retry, are retried in `transactions.transact`.
_RETRY: Final = {"mode": "standard", "max_attempts": 5}
_CONNECT_TIMEOUT: Final = 5.0  # seconds
_READ_TIMEOUT: Final = 30.0  # seconds without a byte from AWS before the attempt counts as failed
# GetObject without ChecksumMode: botocore's default ("when_supported") CRC-checks every object it
# reads whole, 8% of popd's CPU per GB of RETR (bench/, docs/performance.md). The bytes travel over
# TLS (its AEAD tags already catch a change in transit), S3 checks its stored objects itself, and
# without awscrt botocore cannot check S3's default CRC64NVME anyway, so objects SES wrote went
# unchecked while the ones ingest rewrote were checked: one rule for all is clearer. Uploads keep
# their checksums (S3 refuses a PutObject whose bytes do not match).
_RESPONSE_CHECKSUMS: Final = "when_required"


class Store:
    def __init__(
        self,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        table: str,
        bucket: str,
        incoming_prefix: str,
    ) -> None:
        self._s3 = s3
        self._dynamodb = dynamodb
        self._mailboxes = Mailboxes(dynamodb, table)
        self._logins = Logins(dynamodb, table)
        self._app_passwords = AppPasswords(dynamodb, table)
        self._messages = Messages(dynamodb, table)
        self._objects = Objects(s3, bucket)
        self._leases = Leases(dynamodb, table)
        self.table: Final = table
        self.bucket: Final = bucket
        self.incoming_prefix: Final = incoming_prefix
        # The ingest pipeline's parts (aliases and policies, ingest records and filing, quarantine,
        # the incoming prefix), used as they are by popdrop.ingest, the CLI and the API.
        self.routes: Final = Routes(dynamodb, table)
        self.intake: Final = Intake(dynamodb, table)
        self.quarantine: Final = Quarantine(dynamodb, table)
        self.incoming: Final = Incoming(s3, bucket, incoming_prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """Clients configured the standard AWS way (region, credentials, AWS_ENDPOINT_URL)."""
        session = boto3.session.Session()
        config = Config(
            retries=_RETRY,  # type: ignore[arg-type]
            max_pool_connections=_MAX_POOL_CONNECTIONS,
            connect_timeout=_CONNECT_TIMEOUT,
            read_timeout=_READ_TIMEOUT,
            response_checksum_validation=_RESPONSE_CHECKSUMS,
        )
        # Presigned URLs (the API's large downloads) with SigV4: botocore may otherwise presign
        # with SigV2, which newer regions refuse.
        s3_config = config.merge(Config(signature_version="s3v4"))
        with aws_errors():  # NoRegionError, with what to set
            s3, dynamodb = (
                session.client("s3", config=s3_config),
                session.client("dynamodb", config=config),
            )
        return cls(
            s3=s3,
            dynamodb=dynamodb,
            table=settings.table,
            bucket=settings.bucket,
            incoming_prefix=settings.incoming_prefix,
        )

    def create_resources(self) -> None:
        resources.create_bucket(self._s3, self.bucket)
        resources.create_table(self._dynamodb, self.table)

    # mailboxes

    def create_mailbox(
        self, address: str, password_hash: str, scram: ScramKeys | None = None
    ) -> Mailbox:
        return self._mailboxes.create(normalize_address(address), password_hash, scram)

    def get_mailbox(self, address: str) -> Mailbox | None:
        return self._mailboxes.get(normalize_address(address))

    def list_mailboxes(self) -> list[Mailbox]:
        return self._mailboxes.directory()

    def set_password(
        self, address: str, password_hash: str, scram: ScramKeys | None = None
    ) -> None:
        self._mailboxes.set_password(normalize_address(address), password_hash, scram)

    def add_app_password(self, address: str, app_password: AppPassword) -> None:
        """Raises AppPasswordConflict (name taken, or the maximum reached) or MailboxNotFound."""
        self._app_passwords.add(normalize_address(address), app_password)

    def revoke_app_password(self, address: str, name: str) -> None:
        """Raises AppPasswordNotFound."""
        self._app_passwords.revoke(normalize_address(address), name)

    def record_app_password_use(self, address: str, name: str, at: int, client: str) -> None:
        self._app_passwords.record_use(normalize_address(address), name, at, client)

    def remove_mailbox(self, address: str) -> int:
        """Delete the mailbox and its messages; return how many messages were removed.

        Closing the profile first shuts out deliveries, so the Query that follows sees every entry
        there will ever be. Re-running an interrupted removal finishes it.
        """
        address = normalize_address(address)
        self._mailboxes.close(address)
        removed = self._delete_entries(address, self._messages.listing(address, now=None))
        for held in self.quarantine.listing(address):
            self.discard_quarantined(address, held.entry.uid)
        self.routes.delete_policy(address)
        self._mailboxes.delete(address)
        return removed

    # logins (APOP secret, LOGIN-DELAY)

    def set_apop_secret(self, address: str, secret: str) -> None:
        self._mailboxes.set_apop_secret(normalize_address(address), secret)

    def get_apop_secret(self, address: str) -> str | None:
        return self.get_mailbox_and_apop_secret(address)[1]

    def get_mailbox_and_apop_secret(self, address: str) -> tuple[Mailbox | None, str | None]:
        """One GetItem: the mailbox and its APOP secret (None when either is absent)."""
        return self._mailboxes.get_with_apop_secret(normalize_address(address))

    def record_login(self, address: str, now: int, delay: int) -> bool:
        """Record a login unless the previous one was less than `delay` seconds before `now`."""
        return self._logins.record_login(normalize_address(address), now, delay)

    # messages

    def list_messages(self, address: str) -> tuple[MessageEntry, ...]:
        return self._messages.listing(normalize_address(address), now=int(time.time()))

    def get_message(self, address: str, uid: str) -> MessageEntry | None:
        return self._messages.get(normalize_address(address), uid, now=int(time.time()))

    def iter_object(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        """Octets [start, end) of the object (to its end when `end` is None), from one GetObject
        (a ranged one unless the whole object is asked for)."""
        return self._objects.stream(key, start=start, end=end, chunk_size=chunk_size)

    def open_object(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectBody:
        """GetObject of octets [start, end), now: the caller reads the body and closes it."""
        return self._objects.open(key, start=start, end=end)

    def download_url(self, key: str, *, seconds: int) -> str:
        """A short-lived presigned URL for the object (the API's large raw downloads)."""
        return self._objects.download_url(key, seconds=seconds)

    def read_object(self, key: str, *, end: int | None = None) -> bytes:
        return b"".join(self.iter_object(key, end=end))

    def commit_deletions(
        self, address: str, entries: Sequence[MessageEntry], *, lease: Lease | None = None
    ) -> None:
        """Delete these entries (RFC 1939 §6, the UPDATE state) and every object left unreferenced.

        Safe to re-run with the same entries after a failure part-way: what was done is skipped and
        the rest is finished. With `lease` (a POP3 session's), the lease is first renewed, so it
        outlasts the commit, and every transaction that deletes entries checks it still holds:
        a session that lost its lease raises `LeaseLost` having deleted nothing.
        """
        address = normalize_address(address)
        if lease is not None:
            lease = self._leases.renew(lease, now_ms=_now_ms())
        self._delete_entries(address, entries, lease)

    # the maildrop lease (RFC 1939 §8: exclusive access across every daemon)

    def acquire_lease(
        self, address: str, owner: str, *, seconds: float, now: float | None = None
    ) -> Lease | None:
        """Take the maildrop for `owner` for `seconds`; None while another owner holds it.
        `now` (epoch seconds) defaults to the clock; tests pass it to act at another time."""
        return self._leases.acquire(
            normalize_address(address), owner, now_ms=_now_ms(now), duration_ms=int(seconds * 1000)
        )

    def renew_lease(self, lease: Lease, *, now: float | None = None) -> Lease:
        """Extend the hold by its duration from now; raise `LeaseLost` if it was lost meanwhile."""
        return self._leases.renew(lease, now_ms=_now_ms(now))

    def release_lease(self, lease: Lease) -> bool:
        """Give the maildrop back; False when the lease had already passed to another session."""
        return self._leases.release(lease)

    # garbage collection

    def collect_garbage(
        self, *, grace_seconds: float, dry_run: bool = False, now: float | None = None
    ) -> gc.GcReport:
        """Delete objects no entry references (`popdrop gc`); see `popdrop.store.gc`."""
        return gc.collect(
            self._dynamodb,
            self.table,
            self._objects,
            self.incoming,
            now=time.time() if now is None else now,
            grace_seconds=grace_seconds,
            dry_run=dry_run,
        )

    # ingest side

    def incoming_key(self, message_id: str) -> str:
        """Where SES (and `put_incoming`) store the raw message with this id."""
        return self.incoming_prefix + message_id

    def put_incoming(self, message_id: str, data: bytes) -> str:
        key = self.incoming_key(message_id)
        self._objects.put(key, data)
        return key

    def read_object_head(self, key: str, length: int) -> tuple[bytes, int]:
        return self._objects.head(key, length)

    def add_message(self, entry: MessageEntry) -> bool:
        """Add a delivered message to its mailbox; False when this uid was delivered there before.

        Raises `MailboxNotFound` when the mailbox does not exist (or is being removed).
        """
        return self._messages.add(_canonical(entry))

    def discard_quarantined(self, address: str, uid: str) -> bool:
        """Delete a quarantined message (an authorised API call or CLI command, DESIGN invariant
        2), and its object when nothing else refers to it. False when there is no such message."""
        quarantined = self.quarantine.get(normalize_address(address), uid)
        if quarantined is None or not self.quarantine.discard(quarantined):
            return False
        self._delete_unreferenced([quarantined.entry.object_key])
        return True

    def _delete_entries(
        self, address: str, entries: Sequence[MessageEntry], lease: Lease | None = None
    ) -> int:
        unique = list({entry.uid: _canonical(entry) for entry in entries}.values())
        if any(entry.mailbox != address for entry in unique):
            raise ValueError(f"entries of another mailbox given for {address}")
        if lease is not None and lease.mailbox != address:
            raise ValueError(f"a lease on {lease.mailbox} given for {address}")
        deleted = 0
        for batch in batched(unique, ENTRIES_PER_TRANSACTION):
            guard = None if lease is None else self._leases.guard(lease, now_ms=_now_ms())
            deleted += len(self._messages.delete(address, batch, guard))
        # Every given entry's object, not only this run's: an interrupted run may have dereferenced
        # objects without deleting them.
        try:
            self._delete_unreferenced(sorted({entry.object_key for entry in unique}))
        except StoreError as error:
            raise CleanupPending(str(error)) from error
        return deleted

    def _delete_unreferenced(self, keys: Sequence[str]) -> None:
        """Delete those of these objects that nothing references: the object goes before its
        zero-count reference item, so a crash in between leaves the item for `popdrop gc` to
        find (never an object nobody points at)."""
        garbage = list(unreferenced(self._dynamodb, self.table, keys))
        self._objects.delete(garbage)
        release_unreferenced(self._dynamodb, self.table, garbage)


def _now_ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)


def _canonical(entry: MessageEntry) -> MessageEntry:
    address = normalize_address(entry.mailbox)
    return entry if address == entry.mailbox else replace(entry, mailbox=address)
