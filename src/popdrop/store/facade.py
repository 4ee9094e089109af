"""`Store`: S3 + DynamoDB behind every storage face (`popdrop.faces`).

Consumers never see this class: each is handed a `Store` typed as its own face (the daemon a
`MaildropStore`, ingest an `IngestStore`, the CLI an `AdminStore`, the API an `ApiStore`) by a
composition root. Synchronous (the daemon calls it from a thread pool); boto3 clients are
thread-safe. Addresses arrive canonical (`model.Address`): they are normalised where they enter.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final, cast

from botocore.config import Config

from popdrop.faces.admin import GcReport
from popdrop.faces.credentials import Credentials
from popdrop.faces.faults import StoreError
from popdrop.faces.ingest import (
    Arrival,
    Directory,
    Filed,
    IncomingObject,
    IngestRecord,
    IngestStatus,
    Outcome,
    RecordStep,
)
from popdrop.faces.lease import Heartbeat, Lease, LeaseState
from popdrop.folders import FolderChanges, FolderListing
from popdrop.mime.ranges import MimeStructure
from popdrop.model import (
    INBOX_ID,
    Address,
    AppPassword,
    FolderId,
    Listing,
    Mailbox,
    MessageEntry,
    Policy,
    Quarantined,
    Route,
    ScramKeys,
)
from popdrop.store import aws, commits, folder_directory, gc, incoming, resources, structures
from popdrop.store.app_passwords import AppPasswords
from popdrop.store.arrivals import Arrivals
from popdrop.store.aws import LazyClient, aws_errors
from popdrop.store.intake import Intake
from popdrop.store.lease import Heartbeats, Leases
from popdrop.store.logins import Logins
from popdrop.store.mailboxes import Mailboxes
from popdrop.store.messages import Messages
from popdrop.store.objects import ObjectBody, Objects
from popdrop.store.pages import Pages
from popdrop.store.quarantine import Quarantine
from popdrop.store.routes import Routes
from popdrop.store.sweeps import Sweeps

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from popdrop.storage_settings import StorageNames

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
# reads whole, which costs CPU on every RETR (docs/performance.md). The bytes travel over TLS (its
# AEAD tags already catch a change in transit), S3 checks its stored objects itself, and without
# awscrt botocore cannot check S3's default CRC64NVME anyway. Uploads keep their checksums (S3
# refuses a PutObject whose bytes do not match).
_RESPONSE_CHECKSUMS: Final = "when_required"
# Where the API puts decoded MIME parts too large for Lambda's response, for a presigned download:
# outside the incoming prefix (neither ingest nor gc looks there); template.yaml's lifecycle rule
# deletes them after a day.
PARTS_PREFIX: Final = "api-parts/"


class Store:
    def __init__(
        self,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        table: str,
        bucket: str,
        incoming_prefix: str,
        arrivals: Arrivals | None = None,
    ) -> None:
        """`arrivals`: the arrivals queue, when one is configured (the reconcile sweep's)."""
        self._s3 = s3
        self._dynamodb = dynamodb
        self._mailboxes = Mailboxes(dynamodb, table)
        self._logins = Logins(dynamodb, table)
        self._app_passwords = AppPasswords(dynamodb, table)
        self._messages = Messages(dynamodb, table)
        self._objects = Objects(s3, bucket)
        self._heartbeats = Heartbeats(dynamodb, table)
        self._leases = Leases(dynamodb, table, self._heartbeats)
        self._routes = Routes(dynamodb, table)
        self._intake = Intake(dynamodb, table)
        self._quarantine = Quarantine(dynamodb, table)
        self._pages = Pages(dynamodb, table)
        self._sweeps = Sweeps(dynamodb, table)
        self._arrivals = arrivals
        self.table: Final = table
        self.bucket: Final = bucket
        self.incoming_prefix: Final = incoming_prefix

    @classmethod
    def from_settings(cls, settings: StorageNames) -> Store:
        """Clients configured the standard AWS way (region, credentials, AWS_ENDPOINT_URL)."""
        session = aws.session()
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
            dynamodb = session.create_client("dynamodb", config=config)
        s3 = LazyClient(lambda: session.create_client("s3", config=s3_config))
        arrivals = None
        if settings.arrivals_queue:
            sqs = LazyClient(lambda: session.create_client("sqs", config=config))
            events = LazyClient(lambda: session.create_client("events", config=config))
            arrivals = Arrivals(
                cast("SQSClient", sqs), cast("EventBridgeClient", events), settings.arrivals_queue
            )
        return cls(
            s3=cast("S3Client", s3),
            dynamodb=cast("DynamoDBClient", dynamodb),  # botocore types it only as BaseClient
            table=settings.table,
            bucket=settings.bucket,
            incoming_prefix=settings.incoming_prefix,
            arrivals=arrivals,
        )

    def create_resources(self) -> None:
        """The bucket and the table, for the local stack (`template.yaml` deploys them in AWS)."""
        resources.create_bucket(self._s3, self.bucket)
        resources.create_table(self._dynamodb, self.table)
        if self._arrivals is not None:
            self._arrivals.create(self._s3, bucket=self.bucket, prefix=self.incoming_prefix)

    # The POP3 daemon's face (`popdrop.faces.pop3.MaildropStore`).

    def credentials(self, address: Address) -> Credentials | None:
        return self._mailboxes.credentials(address)

    def record_app_password_use(self, address: Address, name: str, at: int, client: str) -> None:
        self._app_passwords.record_use(address, name, at, client)

    def record_login(self, address: Address, now: int, delay: int) -> bool:
        return self._logins.record_login(address, now, delay)

    def start_heartbeat(
        self, daemon: str, *, seconds: float, now: float | None = None
    ) -> Heartbeat:
        """`now` (epoch seconds) defaults to the clock; tests pass it to act at another time."""
        return self._heartbeats.start(daemon, now_ms=_now_ms(now), duration_ms=int(seconds * 1000))

    def renew_heartbeat(self, heartbeat: Heartbeat, *, now: float | None = None) -> Heartbeat:
        return self._heartbeats.renew(heartbeat, now_ms=_now_ms(now))

    def end_heartbeat(self, heartbeat: Heartbeat) -> None:
        self._heartbeats.end(heartbeat)

    def acquire_lease(
        self, address: Address, owner: str, heartbeat: Heartbeat, *, now: float | None = None
    ) -> Lease | None:
        return self._leases.acquire(address, owner, heartbeat, now_ms=_now_ms(now))

    def release_lease(self, lease: Lease) -> bool:
        return self._leases.release(lease)

    def list_messages(self, address: Address) -> tuple[MessageEntry, ...]:
        return self.read_listing(address, INBOX_ID).messages

    def listing_version(self, address: Address) -> int | None:
        return self._mailboxes.listing_version(address)

    def read_listing(self, address: Address, folder: FolderId) -> Listing:
        return self._messages.listing(address, now=int(time.time()), folder=folder)

    def open_object(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectBody:
        return self._objects.open(key, start=start, end=end)

    def commit_deletions(self, lease: Lease, entries: Sequence[MessageEntry]) -> None:
        """Safe to re-run with the same entries after a failure part-way: what was done is skipped
        and the rest is finished. Every transaction that deletes entries checks the lease still
        holds (the fencing token), so a session whose maildrop was taken over commits nothing."""
        self.commit_changes(lease, entries, None)

    def commit_changes(
        self, lease: Lease, deletions: Sequence[MessageEntry], folders: FolderChanges | None
    ) -> None:
        """`commit_deletions` with a POP4 session's folder changes: the directory's new shape, the
        moves and the copies (docs/pop4.md, "Commit"). Safe to re-run the same way: the change's
        id is the lease's, so new folders and copies get the same ids again."""
        self._change(
            lease.mailbox,
            deletions,
            folders,
            f"{lease.owner}.{lease.token}",
            lambda: self._leases.guard(lease),
        )

    def list_folders(self, address: Address) -> FolderListing:
        return folder_directory.listing(self._dynamodb, self.table, address)

    def list_folder(self, address: Address, folder: FolderId) -> tuple[MessageEntry, ...]:
        return self.read_listing(address, folder).messages

    def mime_structure(self, entry: MessageEntry) -> MimeStructure:
        return structures.structure(self._dynamodb, self.table, self._objects, entry.object_key)

    # The REST API (`popdrop.faces.api.ApiStore`), besides the ones above.

    def check_ready(self) -> None:
        self._mailboxes.credentials(Address("ready@probe.invalid"))
        self._objects.check_bucket()

    def messages_newest_first(
        self,
        address: Address,
        *,
        after_uid: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Iterator[MessageEntry] | None:
        return self._pages.messages(
            address, after_uid=after_uid, since_ms=since_ms, until_ms=until_ms
        )

    def get_message(self, address: Address, uid: str) -> MessageEntry | None:
        entry = self._messages.get(address, uid, now=int(time.time()))
        return None if entry is None else self._messages.detailed(entry)

    def iter_object(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        return self._objects.stream(key, chunk_size=chunk_size, start=start, end=end)

    # Folders, for the CLI and the API (`popdrop.faces.admin.FolderAdmin`).

    def find_message(self, address: Address, uid: str) -> MessageEntry | None:
        return self._messages.get(address, uid, now=int(time.time()), quarantined=True)

    def change_folders(self, address: Address, changes: FolderChanges) -> None:
        self._change(address, (), changes, secrets.token_hex(16), None)

    def download_url(
        self,
        key: str,
        *,
        seconds: int,
        content_type: str = "message/rfc822",
        disposition: str | None = None,
    ) -> str:
        return self._objects.download_url(
            key, seconds=seconds, content_type=content_type, disposition=disposition
        )

    def publish_part(self, object_key: str, part: str, data: bytes, content_type: str) -> str:
        return self._objects.publish(
            f"{PARTS_PREFIX}{_digest(object_key)}/{part}", data, content_type
        )

    # Mail in (`popdrop.faces.ingest.IngestStore`).

    def incoming_key(self, message_id: str) -> str:
        return self.incoming_prefix + message_id

    def put_incoming(self, message_id: str, data: bytes) -> str:
        key = self.incoming_key(message_id)
        self._objects.put(key, data)
        return key

    def rewrite_incoming(self, key: str, data: bytes) -> None:
        self._objects.put(key, data)

    def read_head(self, key: str, length: int) -> tuple[bytes, int]:
        return self._objects.head(key, length)

    def read_tail(self, key: str, length: int) -> bytes:
        return self._objects.tail(key, length)

    def read_whole(self, key: str) -> bytes:
        return self._objects.read_whole(key)

    def list_incoming(self) -> Iterator[IncomingObject]:
        return incoming.listing(self._s3, self.bucket, self.incoming_prefix)

    @property
    def has_arrivals(self) -> bool:
        return self._arrivals is not None

    def receive_arrivals(self) -> list[Arrival]:
        return self._queue().receive()

    def settle_arrivals(self, receipts: Sequence[str]) -> None:
        self._queue().settle(receipts)

    def defer_arrivals(self, due: Sequence[tuple[str, int]]) -> None:
        self._queue().defer(due)

    def _queue(self) -> Arrivals:
        if self._arrivals is None:
            raise StoreError("no arrivals queue is configured: set POPDROP_ARRIVALS_QUEUE")
        return self._arrivals

    def sweep_checkpoint(self, name: str) -> int | None:
        return self._sweeps.checkpoint(name)

    def save_sweep_checkpoint(self, name: str, swept_to: int) -> None:
        self._sweeps.save_checkpoint(name, swept_to)

    def lookup(self, addresses: Iterable[str]) -> Directory:
        return self._routes.lookup(addresses)

    def ingest_record(self, message_id: str) -> IngestRecord | None:
        return self._intake.record(message_id)

    def begin_ingest(
        self, message_id: str, object_key: str, now_ms: int, recipients: Iterable[str]
    ) -> IngestStatus | None:
        return self._intake.begin(message_id, object_key, now_ms, recipients)

    def finish_ingest(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> bool:
        return self._intake.finish(message_id, object_key, now_ms, outcomes)

    def record_unrouted(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> None:
        self._intake.record_unrouted(message_id, object_key, now_ms, outcomes)

    def deliver_and_record(self, entry: MessageEntry, policy: Policy, step: RecordStep) -> bool:
        return self._intake.deliver_and_record(entry, policy, step)

    def deliver(self, entry: MessageEntry, policy: Policy) -> Filed:
        return self._intake.deliver(entry, policy)

    def folder_for_tag(self, address: Address, tag: str) -> FolderId:
        return self._intake.folder_for_tag(address, tag)

    def quarantine(self, quarantined: Quarantined) -> Filed:
        return self._intake.quarantine(quarantined)

    # Administration (`popdrop.faces.admin.AdminStore`).

    def get_mailbox(self, address: Address) -> Mailbox | None:
        found = self._mailboxes.credentials(address)
        return None if found is None else found.mailbox

    def list_mailboxes(self) -> list[Mailbox]:
        return self._mailboxes.directory()

    def mailboxes_in_order(self, *, after: Address | None = None) -> Iterator[Mailbox]:
        return self._pages.mailboxes(after=after)

    def create_mailbox(
        self, address: Address, password_hash: str, scram: ScramKeys | None = None
    ) -> Mailbox:
        return self._mailboxes.create(address, password_hash, scram)

    def set_password(
        self, address: Address, password_hash: str, scram: ScramKeys | None = None
    ) -> None:
        self._mailboxes.set_password(address, password_hash, scram)

    def set_apop_secret(self, address: Address, secret: str) -> None:
        self._mailboxes.set_apop_secret(address, secret)

    def add_app_password(self, address: Address, app_password: AppPassword) -> None:
        self._app_passwords.add(address, app_password)

    def revoke_app_password(self, address: Address, name: str) -> None:
        self._app_passwords.revoke(address, name)

    def remove_mailbox(self, address: Address) -> int:
        """Closing the profile first shuts out deliveries, so the Query that follows sees every
        entry there will ever be (INBOX's and every POP4 folder's). Re-running an interrupted
        removal finishes it."""
        self._mailboxes.close(address)
        entries = self._messages.listing(address, now=None).messages + self._messages.in_folders(
            address
        )
        removed = self._delete_entries(address, entries)
        for held in self._quarantine.listing(address):
            self.discard_quarantined(address, held.entry.uid)
        folder_directory.forget(self._dynamodb, self.table, address)
        self._routes.delete_policy(address)
        self._mailboxes.delete(address)
        return removed

    def put_route(self, route: Route) -> None:
        self._routes.put_route(route)

    def delete_route(self, address: str) -> bool:
        return self._routes.delete_route(address)

    def list_routes(self) -> list[Route]:
        return self._routes.list_routes()

    def routes_in_order(self, *, after: str | None = None) -> Iterator[Route]:
        return self._pages.routes(after=after)

    def get_policy(self, address: Address) -> Policy | None:
        directory = self._routes.lookup([address])
        return directory.policy(address) if address in directory.mailboxes else None

    def put_policy(self, address: Address, policy: Policy) -> None:
        self._routes.put_policy(address, policy)

    def list_quarantined(self, address: Address) -> list[Quarantined]:
        return self._quarantine.listing(address)

    def quarantined_newest_first(
        self, address: Address, *, after_uid: str | None = None
    ) -> Iterator[Quarantined] | None:
        return self._pages.quarantined(address, after_uid=after_uid)

    def lease_state(self, address: Address) -> LeaseState | None:
        return self._leases.state(address, now_ms=_now_ms())

    def break_lease(self, address: Address) -> bool:
        return self._leases.break_hold(address)

    def release_quarantined(self, address: Address, uid: str) -> MessageEntry | None:
        held = self._quarantine.get(address, uid)
        if held is None or not self._quarantine.release(held):
            return None
        return replace(held.entry, folder=INBOX_ID)  # where it is now

    def discard_quarantined(self, address: Address, uid: str) -> bool:
        """An authorised deletion (DESIGN invariant 2)."""
        held = self._quarantine.get(address, uid)
        if held is None or not self._quarantine.discard(held):
            return False
        self._delete_unreferenced([held.entry.object_key])
        return True

    def collect_garbage(
        self,
        *,
        grace_seconds: float,
        dry_run: bool = False,
        full: bool = False,
        now: float | None = None,
    ) -> GcReport:
        return gc.collect(
            self._dynamodb,
            self.table,
            self._objects,
            self.list_incoming(),
            now=time.time() if now is None else now,
            grace_seconds=grace_seconds,
            dry_run=dry_run,
            full=full,
        )

    def _delete_entries(
        self, address: Address, entries: Sequence[MessageEntry], lease: Lease | None = None
    ) -> int:
        guard = None if lease is None else lambda: self._leases.guard(lease)
        return self._change(address, entries, None, "", guard)

    def _change(
        self,
        address: Address,
        deletions: Sequence[MessageEntry],
        folders: FolderChanges | None,
        change: str,
        guard: Callable[[], TransactWriteItemTypeDef] | None,
    ) -> int:
        return commits.commit(
            commits.Target(self._dynamodb, self.table, self._objects, address),
            deletions,
            folders,
            change=change,
            guard=guard,
        )

    def _delete_unreferenced(self, keys: Sequence[str]) -> None:
        commits.delete_unreferenced(self._dynamodb, self.table, self._objects, keys)


def _digest(text: str) -> str:
    """An object key may hold characters a key path should not: name it by its hash."""
    return hashlib.sha256(text.encode()).hexdigest()


def _now_ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)
