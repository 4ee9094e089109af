"""Configuration from `POPDROP_*` environment variables (pydantic-settings), validated and cached.

The storage names (table, bucket, incoming prefix) and their rules are defined in
`popdrop.storage_settings`, which the operator commands read without pydantic. AWS itself is
configured the standard way (AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, credentials
chain); popdrop only names its own resources and policies here.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from popdrop.storage_settings import ENV_PREFIX, StorageSettings, check_storage_setting

# 32 random characters from a 62-letter alphabet carry 190 bits: beyond guessing.
DECOY_KEY_MIN_LENGTH = 32


class PlaintextAuth(enum.StrEnum):
    """When a password may cross a connection that is not under TLS."""

    NEVER = "never"  # the default: USER/PASS only after STLS or on the implicit-TLS port
    LOOPBACK = "loopback"  # allowed from 127.0.0.0/8 and ::1 only (what `popdrop dev` sets)
    ALWAYS = "always"  # allowed from anywhere: only behind a network that encrypts for you


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    table: str = StorageSettings.table
    bucket: str = StorageSettings.bucket
    incoming_prefix: str = StorageSettings.incoming_prefix
    arrivals_queue: str = StorageSettings.arrivals_queue

    host: str = "0.0.0.0"  # noqa: S104 - a server's default is to listen on every interface
    pop3_port: int = Field(default=110, ge=0, le=65535)
    pop3s_port: int = Field(default=995, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Or a Secrets Manager secret (ARN or name) holding the PEM chain and key, read at start and
    # polled every `tls_secret_poll_seconds` for a new version (on ECS, where no SIGHUP reaches a
    # task and no file can be copied in).
    tls_secret: str = ""
    tls_secret_poll_seconds: float = Field(default=300.0, ge=1.0)
    plaintext_auth: PlaintextAuth = PlaintextAuth.NEVER

    # Load balancers whose PROXY protocol (v1 or v2) header is believed: comma-separated CIDRs,
    # e.g. the NLB's subnets. Connections from them must start with a header; from anywhere else
    # a header is refused (it would let a client choose the address used for limits and logs).
    proxy_trusted_networks: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    # A bare user name ("alice") logs in to alice@<default domain>; empty: full addresses only.
    default_domain: str = ""
    # Verified credentials are remembered this long (0 disables), so a client polling every
    # minute pays the scrypt hash once per period; a password change invalidates at once.
    credential_cache_seconds: float = Field(default=300.0, ge=0.0)
    # A failed authentication is answered after base * 2**(failures-1) seconds, capped at max,
    # counting recent failures per client address and per account (the larger of the two).
    auth_penalty_base: float = Field(default=2.0, ge=0.0)
    auth_penalty_max: float = Field(default=15.0, ge=0.0)
    # New connections per client address: `burst` at once, then `rate` per second (0: no limit).
    connection_rate: float = Field(default=2.0, ge=0.0)
    connection_burst: int = Field(default=20, ge=1)

    # The key from which the SCRAM salts of unknown names are derived, so that they look like a
    # mailbox's: at least 32 characters, the same in every replica (docs/security.md, "No user
    # enumeration"). Unset: a random key per process, as safe, but an unknown name's salt then
    # changes between replicas and restarts where a mailbox's does not. The stack sets it.
    decoy_key: SecretStr = SecretStr("")

    # Failed logins one connection may make before it is closed.
    max_auth_failures: int = Field(default=3, ge=1)
    # OAUTHBEARER / XOAUTH2: JWTs from this OIDC issuer (e.g. a Cognito user pool,
    # https://cognito-idp.<region>.amazonaws.com/<pool id>), for this audience (app client id),
    # naming the mailbox in this claim. Empty issuer: the mechanisms are not offered.
    oauth_issuer: str = ""
    oauth_audience: str = ""
    oauth_jwks_url: str = ""  # default: <issuer>/.well-known/jwks.json
    oauth_mailbox_claim: str = "email"

    # RFC 1939 §3 asks for an autologout timer of at least 10 minutes, the default. Shorter is
    # allowed (tests, an operator who accepts the deviation), never shorter than a second.
    idle_timeout: float = Field(default=600.0, ge=1.0)
    # On SIGTERM, how long open sessions may run on before they are cut (uncommitted). ECS waits
    # stopTimeout (30 s by default) before SIGKILL, so stay below it.
    drain_seconds: float = Field(default=20.0, ge=0.0)
    # Bad command lines a session may send before the server closes it.
    bad_command_budget: int = Field(default=10, ge=1)
    # The longest a session may last, idle or not, before the server closes it (uncommitted).
    max_session_seconds: float = Field(default=3600.0, ge=1.0)
    # Concurrent sessions from one client address; the next is refused with [SYS/TEMP].
    max_sessions_per_address: int = Field(default=20, ge=1)
    # Of those, how many may be logging in at once (not yet authenticated): with the failure
    # penalty, this bounds the guess rate per address (docs/security.md, "Guessing").
    max_unauthenticated_per_address: int = Field(default=3, ge=1)
    # The longest a connection may stay unauthenticated, however busy (Dovecot closes such
    # clients after about a minute); a login ends this limit.
    login_timeout: float = Field(default=60.0, ge=1.0)
    # RFC 1939 §7 APOP: off by default, because it needs a plaintext-equivalent secret per mailbox.
    apop: bool = False
    # RFC 2195 CRAM-MD5 in AUTH: off by default; it uses the same shared secret as APOP.
    cram_md5: bool = False
    # RFC 2449 §6.8 LOGIN-DELAY: seconds a mailbox must wait between logins; 0 disables it.
    login_delay: int = Field(default=0, ge=0, le=86400)
    # The POP4 extension (docs/pop4.md): server-side folders and partial retrieval. Off by
    # default: then no client sees any sign of it.
    pop4: bool = False

    # RFC 1939 §8 exclusive access across replicas: the daemon's heartbeat period, which keeps
    # every maildrop lease its sessions hold (renewed every third of this, once per daemon). It
    # bounds how long a crashed daemon keeps its mailboxes locked; it must stay well above clock
    # skew between hosts.
    lease_seconds: float = Field(default=30.0, ge=3.0, le=60.0)
    # How long a login waits for a maildrop held by another session (one that is just logging out)
    # before answering -ERR [IN-USE].
    lease_wait_seconds: float = Field(default=2.0, ge=0.0, le=30.0)
    # Per-session memory for reading the next message ahead while the client reads this one;
    # 0 turns read-ahead off.
    read_ahead_bytes: int = Field(default=65536, ge=0, le=16 * 1024 * 1024)
    # Memory for the chunks of messages being sent (RETR, TOP), daemon-wide, shared out equally
    # among the messages streaming at once: 1 MiB each while 64 or fewer stream, down to 64 KiB
    # each (docs/engine.md, "Streaming").
    stream_buffer_bytes: int = Field(default=64 * 1024 * 1024, ge=65536, le=4 * 1024**3)
    # Message entries of listings the daemon keeps between logins, over all mailboxes (about
    # 0.4 KB each): an unchanged maildrop is then not read again at login (docs/engine.md,
    # "Listing cache"); 0 turns it off.
    listing_cache_entries: int = Field(default=50_000, ge=0, le=10_000_000)
    # How old an unhandled object under the incoming prefix must be before the reconcile sweep
    # ingests it (docs/ingest.md, "Lost events").
    reconcile_grace_seconds: int = Field(default=900, ge=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    # The admin bearer token for the REST API; an empty token disables admin access entirely.
    api_token: str = ""
    # Or a Secrets Manager secret (ARN or name) whose text is the token, so it never sits in an
    # environment variable; re-read after `api_token_cache_seconds`, so a rotation takes effect.
    api_token_secret: str = ""
    api_token_cache_seconds: float = Field(default=300.0, ge=0.0)
    # A raw message larger than this is answered with a redirect to a presigned S3 URL valid
    # `api_download_url_seconds`: Lambda's response limit is 6 MB after base64 (4/3 the size),
    # so a buffered body must stay under about 4.4 MB (docs/api.md).
    api_inline_raw_bytes: int = Field(default=4 * 1024 * 1024, ge=0, le=4_400_000)
    api_download_url_seconds: int = Field(default=60, ge=1, le=3600)
    # The largest message the API parses for its headers, parts and HTML (held in memory a few
    # times over while parsed): SES's own limit is 40 MB. Larger ones are served only raw.
    api_parse_max_bytes: int = Field(default=40 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    @field_validator("proxy_trusted_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _one_source_each(self) -> Settings:
        if self.tls_secret and (self.tls_cert or self.tls_key):
            raise ValueError("set POPDROP_TLS_SECRET or POPDROP_TLS_CERT/KEY, not both")
        if self.api_token_secret and self.api_token:
            raise ValueError("set POPDROP_API_TOKEN_SECRET or POPDROP_API_TOKEN, not both")
        return self

    @field_validator("decoy_key")
    @classmethod
    def _decoy_key_is_long(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if 0 < length < DECOY_KEY_MIN_LENGTH:
            raise ValueError(f"POPDROP_DECOY_KEY needs at least {DECOY_KEY_MIN_LENGTH} characters")
        return value

    @field_validator("table", "bucket", "incoming_prefix")
    @classmethod
    def _storage_name(cls, value: str, info: ValidationInfo) -> str:
        assert info.field_name is not None  # a field validator is always given its field
        return check_storage_setting(info.field_name, value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
