"""Guessing the admin token or a password: every failure is logged and penalised per client
address with POP3's penalty code (popdrop.auth.penalty), and attempts from one address are
answered one after another, so a burst sent at once goes no faster than guesses sent in turn."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI

from popdrop.admin import mailboxes as admin_mailboxes
from popdrop.settings import Settings, get_settings
from popdrop.store import Store

from .helpers import ADDRESS, TOKEN

T = TypeVar("T")
BASE = 0.1  # seconds: the first failure's penalty, doubling per recent failure
CEILING = 0.4


def in_own_thread(burst: Coroutine[object, object, T]) -> T:
    """asyncio.run in a thread of its own: it leaves the main thread's event loop state as it
    was (Mangum, in another test of the same worker, asks for the main thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, burst).result()


def penalties(count: int) -> list[float]:
    return [min(BASE * 2**n, CEILING) for n in range(count)]


@pytest.fixture
def penalised(app: FastAPI, settings: Settings) -> FastAPI:
    slow = settings.model_copy(update={"auth_penalty_base": BASE, "auth_penalty_max": CEILING})
    app.dependency_overrides[get_settings] = lambda: slow
    return app


async def _burst(
    app: FastAPI, wrong: list[dict[str, str]], right: dict[str, str]
) -> tuple[list[float], float]:
    """Send the wrong attempts and the right one at once from one address; when each ended."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        start = time.monotonic()

        async def attempt(headers: dict[str, str], status: int) -> float:
            response = await client.get(f"/v1/mailboxes/{ADDRESS}", headers=headers)
            assert response.status_code == status
            return time.monotonic() - start

        ended = await asyncio.gather(
            *(attempt(headers, 401) for headers in wrong), attempt(right, 200)
        )
    return list(ended[:-1]), ended[-1]


def test_a_burst_of_wrong_tokens_is_answered_one_penalty_after_another_and_logged(
    penalised: FastAPI, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = [{"Authorization": f"Bearer guess-{n}"} for n in range(6)]
    caplog.set_level("INFO", logger="popd.auth")

    ended, right = in_own_thread(_burst(penalised, wrong, {"Authorization": f"Bearer {TOKEN}"}))

    # Served in turn: the k-th failure to end waited for every penalty before it.
    for k, moment in enumerate(sorted(ended), start=1):
        assert moment >= sum(penalties(k)) * 0.95
    # The right token is answered no sooner than the failures it queued behind allowed.
    before = sum(1 for moment in ended if moment < right)
    assert right >= sum(penalties(before)) * 0.95
    logged = [r for r in caplog.records if r.getMessage() == "auth.failed"]
    assert len(logged) == len(wrong)
    assert all(r.__dict__["fields"]["client"] == "198.51.100.7" for r in logged)


def test_a_burst_of_wrong_passwords_is_penalised_the_same_way(
    penalised: FastAPI, store: Store
) -> None:
    admin_mailboxes.set_password(store, ADDRESS, "the-right-one")

    def basic(password: str) -> dict[str, str]:
        encoded = base64.b64encode(f"{ADDRESS}:{password}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}

    ended, right = in_own_thread(
        _burst(penalised, [basic(f"guess-{n}") for n in range(4)], basic("the-right-one"))
    )

    for k, moment in enumerate(sorted(ended), start=1):
        assert moment >= sum(penalties(k)) * 0.95
    before = sum(1 for moment in ended if moment < right)
    assert right >= sum(penalties(before)) * 0.95
