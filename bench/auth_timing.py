"""Does the reply time reveal whether a mailbox exists? Unknown mailbox vs wrong password.

Runs popd's Authenticator against moto's server on loopback, alternating the two cases (A B A B),
and prints medians, the ratio and the spread. Usage: .venv/bin/python bench/auth_timing.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import moto_host

from popdrop.auth.authenticator import Authenticator
from popdrop.auth.passwords import hash_password
from popdrop.settings import Settings
from popdrop.store import Store


async def measure(rounds: int) -> dict[str, list[float]]:
    settings = Settings(table="bench-auth", bucket="bench-auth", auth_penalty_base=0)
    store = Store.from_settings(settings)
    store.create_resources()
    store.create_mailbox("alice@example.test", hash_password("the right one"))
    authenticator = Authenticator(store, settings)
    cases = {"unknown mailbox": "nobody@example.test", "wrong password": "alice@example.test"}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, user in cases.items():
            started = time.perf_counter()
            assert await authenticator.authenticate(user, "a wrong guess", "198.51.100.1") is None
            times[name].append(time.perf_counter() - started)
    return times


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with moto_host.in_this_process():
        times = asyncio.run(measure(rounds))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        quartiles = statistics.quantiles(values, n=4)
        print(
            f"{name:16s} median {medians[name] * 1000:6.1f} ms   "
            f"IQR {quartiles[0] * 1000:6.1f}-{quartiles[2] * 1000:6.1f} ms   n={len(values)}"
        )
    ratio = medians["unknown mailbox"] / medians["wrong password"]
    print(f"ratio unknown/wrong: {ratio:.3f}")


if __name__ == "__main__":
    main()
