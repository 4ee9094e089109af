"""Credential cache, failure penalties, connection rate, default domain, app passwords (issue 4)."""

from __future__ import annotations

import pytest

from popdrop.auth import app_passwords
from popdrop.auth.cache import CredentialCache
from popdrop.auth.identity import resolve_login
from popdrop.auth.penalty import ConnectionRate, Penalties, PenaltyPolicy
from popdrop.model import AppPassword


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_remembers_a_verified_password_until_it_expires() -> None:
    clock = Clock()
    cache = CredentialCache(60, clock=clock)
    cache.remember("a@x.test", "pw", "$hash1")
    assert cache.verified("a@x.test", "pw", "$hash1")
    clock.now += 61
    assert not cache.verified("a@x.test", "pw", "$hash1")


def test_the_cache_never_answers_for_another_password_or_mailbox() -> None:
    cache = CredentialCache(60)
    cache.remember("a@x.test", "pw", "$hash1")
    assert not cache.verified("a@x.test", "pw2", "$hash1")
    assert not cache.verified("b@x.test", "pw", "$hash1")


def test_a_password_change_invalidates_the_cache_at_once() -> None:
    cache = CredentialCache(60)
    cache.remember("a@x.test", "old", "$hash-of-old")
    assert not cache.verified("a@x.test", "old", "$hash-of-new")


def test_the_cache_is_bounded_and_can_be_disabled() -> None:
    cache = CredentialCache(60, max_entries=2)
    for n in range(3):
        cache.remember("a@x.test", f"pw{n}", "$h")
    assert not cache.verified("a@x.test", "pw0", "$h")  # evicted first
    assert cache.verified("a@x.test", "pw2", "$h")
    disabled = CredentialCache(0)
    disabled.remember("a@x.test", "pw", "$h")
    assert not disabled.verified("a@x.test", "pw", "$h")


def test_the_failure_delay_doubles_from_the_base_up_to_the_ceiling() -> None:
    penalties = Penalties(PenaltyPolicy(base=2, ceiling=15))
    delays = [penalties.failed("198.51.100.1", "a@x.test") for _ in range(6)]
    assert delays == [2, 4, 8, 15, 15, 15]


def test_the_penalty_follows_the_account_across_addresses() -> None:
    penalties = Penalties(PenaltyPolicy(base=1, ceiling=60))
    for n in range(4):
        penalties.failed(f"198.51.100.{n}", "victim@x.test")
    assert penalties.delay("203.0.113.9", "victim@x.test") == 8  # a fresh address guessing it


def test_the_penalty_follows_the_address_across_accounts() -> None:
    penalties = Penalties(PenaltyPolicy(base=1, ceiling=60))
    for n in range(3):
        penalties.failed("198.51.100.1", f"user{n}@x.test")
    assert penalties.delay("198.51.100.1", "someone-else@x.test") == 4


def test_failures_are_forgotten_after_the_window() -> None:
    clock = Clock()
    penalties = Penalties(PenaltyPolicy(base=2, ceiling=15, window=300), clock=clock)
    penalties.failed("198.51.100.1", "a@x.test")
    clock.now += 301
    assert penalties.delay("198.51.100.1", "a@x.test") == 0


def test_penalty_state_is_bounded() -> None:
    penalties = Penalties(PenaltyPolicy(max_tracked=10))
    for n in range(1000):
        penalties.failed(f"10.0.{n // 256}.{n % 256}", f"u{n}@x.test")
    assert penalties.delay("10.0.0.0", "u0@x.test") == 0  # long evicted


def test_connections_from_one_address_are_rate_limited_by_a_token_bucket() -> None:
    clock = Clock()
    rate = ConnectionRate(per_second=1, burst=3, clock=clock)
    assert [rate.allow("198.51.100.1") for _ in range(4)] == [True, True, True, False]
    assert rate.allow("203.0.113.9")  # other addresses are unaffected
    clock.now += 1
    assert rate.allow("198.51.100.1")
    assert not rate.allow("198.51.100.1")


def test_a_zero_rate_means_no_limit() -> None:
    rate = ConnectionRate(per_second=0, burst=1)
    assert all(rate.allow("198.51.100.1") for _ in range(100))


@pytest.mark.parametrize(
    ("username", "domain", "address"),
    [
        ("alice", "example.test", "alice@example.test"),
        ("Alice@Other.Test", "example.test", "alice@other.test"),
        ("alice", "", None),
        ("not an address", "example.test", None),
    ],
)
def test_a_default_domain_completes_a_bare_user_name(
    username: str, domain: str, address: str | None
) -> None:
    assert resolve_login(username, domain) == address


def test_app_passwords_are_random_and_match_as_typed() -> None:
    password, digest = app_passwords.generate()
    other, _ = app_passwords.generate()
    assert password != other
    assert len(password.replace("-", "")) == 32  # 160 bits in base32
    phone = AppPassword("phone", digest, created_at=0)
    laptop = AppPassword("laptop", app_passwords.digest(other), created_at=0)
    assert app_passwords.match(password, [laptop, phone]) == phone
    assert app_passwords.match(password.replace("-", " ").upper(), [phone]) == phone
    assert app_passwords.match("wrong", [laptop, phone]) is None
    assert app_passwords.match(password, []) is None
