"""`make bench`: popdrop against Dovecot, the same scenarios, in one run, in rounds.

Starts moto's server (the storage host, a process of its own, never counted as popdrop's) and fills
it through popdrop's ingest, fills Maildirs with the same messages for a private Dovecot, then runs
two sets of scenarios (docs/performance.md, "Two methods"):

- issue 17's method, the one the targets are judged on. Authenticated idle sessions on distinct
  mailboxes (`held`: memory, new logins while held, failed opens) and logins per CPU-second
  (`logins`), each run on a freshly started server: popd with an empty credential cache and a
  fresh allocator, Dovecot with the password scheme of `--dovecot-scheme` (a hash of popdrop's
  cost) and with plain-text passwords; each round runs popdrop, Dovecot hashed, Dovecot plain.
  Then `commands` (STAT/LIST/UIDL/NOOP in windows of 16 on four connections) and large RETR.
- The first method's scenarios, kept for what they still measure: `sessions` and `tls_sessions`
  (CPU per session without a password hash), `pipelined` (single-line commands), small RETR,
  `greeted` connections (never logged in), the S3 latency runs.

The per-command and RETR scenarios run round by round against one popd and one Dovecot (plain),
in the order popdrop, Dovecot, Dovecot again: the ratio Dovecot/Dovecot is the noise band. Prints
the tables and writes them (and every run, as JSON) to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import idle
import loadgen
from client import Account, Result, Target, raise_fd_limit
from corpus import APP_PASSWORD, PASSWORD, Layout
from dovecot.instance import DOVECOT, dovecot, prepare
from popdrop_instance import Storage, fill, moto_server, popdrop_serve, stop
from report import PLAIN, report

Scenario = Callable[[Target], Awaitable[Result]]
FIRST_METHOD = ("sessions", "tls_sessions", "pipelined", "retr_small_w1", "retr_small_w16")


def scenarios(args: argparse.Namespace, layout: Layout) -> dict[str, Scenario]:
    accounts = [Account(user, PASSWORD) for user in layout.session_users]
    small, large = Account(layout.small_user, PASSWORD), Account(layout.large_user, PASSWORD)
    deadline = args.deadline
    table: dict[str, Scenario] = {
        "commands": lambda t: loadgen.commands(
            t, accounts, args.commands, args.window, deadline, lines=args.read_lines
        ),
        "sessions": lambda t: loadgen.sessions(t, accounts, args.sessions, deadline),
        "tls_sessions": lambda t: loadgen.sessions(
            t, accounts, args.tls_sessions, deadline, tls=True
        ),
        "pipelined": lambda t: loadgen.pipelined(
            t, accounts[:2], args.commands, args.window, deadline
        ),
    }
    for window in (1, 16):
        for size, account, count, messages in (
            ("small", small, args.small_retrs, layout.small_count),
            ("large", large, args.large_retrs, layout.large_count),
        ):
            name = f"retr_{size}_w{window}"
            table[name] = retr(account, count, window, name, messages, args)
    return table


def retr(
    account: Account, count: int, window: int, name: str, messages: int, args: argparse.Namespace
) -> Scenario:
    return lambda t: loadgen.retrieve(
        t, account, count, window, args.deadline, name, messages, lines=args.read_lines
    )


def wanted(args: argparse.Namespace, name: str) -> bool:
    return not args.only or name in args.only


async def warm_up(target: Target, layout: Layout) -> None:
    """One session per account first: caches (popdrop's credential cache, Dovecot's indexes) are
    filled outside the measurement, as they are in a server that has been running."""
    users = [*layout.session_users, layout.small_user, layout.large_user]
    for user in users:
        await loadgen.one_session(target, Account(user, PASSWORD))


async def compare(
    args: argparse.Namespace, layout: Layout, popdrop: Target, peer: Target
) -> list[Result]:
    """The scenarios that run against one long-lived server each, round by round."""
    peer_again = Target(f"{peer.name}-b", peer.port, peer.tls_port, peer.probe)
    table = scenarios(args, layout)
    chosen = [name for name in table if wanted(args, name)]
    results = []
    if chosen:
        for target in (popdrop, peer):
            await warm_up(target, layout)
    for round_number in range(args.rounds):
        for name in chosen:
            for target in (popdrop, peer, peer_again):
                result = await table[name](target)
                result.extra["round"] = round_number
                print(result.line(), flush=True)
                results.append(result)
    if wanted(args, "greeted"):
        account = Account(layout.session_users[0], PASSWORD)
        for count in args.greeted:
            for target in (popdrop, peer):
                result = await idle.greeted(target, account, count, args.logins, 600.0)
                print(result.line(), flush=True)
                results.append(result)
    return results


def hashed_name(args: argparse.Namespace) -> str:
    scheme: str = args.dovecot_scheme
    return "dovecot-" + scheme.partition(":")[0].lower()


@contextlib.contextmanager
def fresh(kind: str, args: argparse.Namespace, work: Path, storage: Storage) -> Iterator[Target]:
    """A server started for one run: popd (cold credential cache, fresh allocator), or Dovecot
    with the hashed or the plain-text passwd-file."""
    if kind == "popdrop":
        with popdrop_serve(work, storage, env=args.popd_env) as popdrop:
            yield popdrop.target
    else:
        scheme = "PLAIN" if kind == PLAIN else args.dovecot_scheme
        with dovecot(work / "dovecot", name=kind, scheme=scheme) as running:
            yield running.target


def fresh_runs(
    args: argparse.Namespace, layout: Layout, work: Path, storage: Storage
) -> list[Result]:
    """issue 17's login and idle scenarios, each on a freshly started server, round by round."""
    kinds = ("popdrop", hashed_name(args), PLAIN)
    users = [layout.idle_user(n) for n in range(layout.idle_mailboxes)]
    results: list[Result] = []

    def keep(result: Result, round_number: int) -> None:
        result.extra["round"] = round_number
        print(result.line(), flush=True)
        results.append(result)

    if wanted(args, "logins"):
        password = [Account(user, PASSWORD) for user in users[: args.login_mailboxes]]
        app = [Account(user, APP_PASSWORD) for user in users[: args.login_mailboxes]]
        for round_number in range(args.rounds):
            for kind in kinds:
                with fresh(kind, args, work, storage) as target:
                    passes = [("logins_password", password)]
                    if kind == "popdrop":  # again: the verified-credentials cache; app passwords
                        passes += [("logins_cached", password), ("logins_app", app)]
                    for name, accounts in passes:
                        run = loadgen.logins(target, accounts, args.deadline, name)
                        keep(asyncio.run(run), round_number)
    if wanted(args, "held"):
        held_kinds = tuple(args.held_kinds or kinds)
        runs: list[tuple[int, tuple[str, ...], int]] = [
            (count, held_kinds, args.rounds) for count in args.held
        ]
        runs += [(count, ("popdrop",), 1) for count in args.held_ours]
        for count, targets, rounds in runs:
            for round_number in range(rounds):
                for kind in targets:
                    # --held-app: popdrop's sessions log in with the app password (the fast
                    # path), so that opening 10,000 does not take an hour of hashes; the memory
                    # of a session held does not depend on how it logged in.
                    secret = APP_PASSWORD if args.held_app and kind == "popdrop" else PASSWORD
                    held = [Account(user, secret) for user in users[:count]]
                    new = [Account(user, secret) for user in users[count : count + args.logins]]
                    with fresh(kind, args, work, storage) as target:
                        run = idle.held(target, held, new, args.held_deadline)
                        keep(asyncio.run(run), round_number)
    return results


async def s3_latency(
    args: argparse.Namespace, layout: Layout, direct: Target, delayed: Target
) -> list[Result]:
    """A sequential download (RETR 1..N at window 1) straight to moto and through the proxy."""
    count = min(args.latency_messages, layout.small_count)
    account = Account(layout.small_user, PASSWORD)
    await warm_up(delayed, layout)
    results = []
    for round_number in range(args.rounds):
        for target, name in ((direct, "s3_direct"), (delayed, "s3_delayed")):
            result = await loadgen.first_bytes(target, account, count, args.deadline, name)
            result.extra["round"] = round_number
            print(result.line(), flush=True)
            results.append(result)
    return results


def counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--small",
        type=int,
        default=500,
        help="4 KB messages (issue: 2000, but filling moto with that many through ingest ran it "
        "out of memory here; --small-retrs makes 2,000 RETRs anyway: docs/performance.md)",
    )
    parser.add_argument("--large", type=int, default=4, help="5 MiB messages (issue: 20)")
    parser.add_argument("--small-retrs", type=int, default=2000, help="RETRs of small messages")
    parser.add_argument("--large-retrs", type=int, default=40, help="RETRs of large messages")
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--tls-sessions", type=int, default=200)
    parser.add_argument("--commands", type=int, default=200000, help="per run, both mixes")
    parser.add_argument("--window", type=int, default=16, help="pipelined commands per write")
    parser.add_argument(
        "--read-lines",
        action="store_true",
        help="commands and RETR read multi-line replies line by line (docs/performance.md)",
    )
    parser.add_argument(
        "--held", type=counts, default=[2000], help="authenticated idle sessions, against all"
    )
    parser.add_argument(
        "--held-ours", type=counts, default=[], help="held against popdrop only, one round"
    )
    parser.add_argument(
        "--held-kinds",
        nargs="*",
        help="servers for --held (default: popdrop, hashed Dovecot, plain Dovecot)",
    )
    parser.add_argument(
        "--held-app",
        action="store_true",
        help="popdrop's held sessions and new logins use app passwords",
    )
    parser.add_argument("--held-deadline", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--logins", type=int, default=20, help="new logins while sessions held")
    parser.add_argument(
        "--login-mailboxes", type=int, default=200, help="distinct mailboxes per logins run"
    )
    parser.add_argument(
        "--dovecot-scheme",
        default="ARGON2ID:7",
        help="Dovecot's hashed passwords: ARGON2ID:passes (16 MiB), BLF-CRYPT:cost, "
        "SHA512-CRYPT:rounds (docs/performance.md: which is popdrop's cost)",
    )
    parser.add_argument(
        "--popd-env",
        type=lambda text: tuple(text.split("=", 1)),
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="added to popd's environment (e.g. MALLOC_ARENA_MAX=2)",
    )
    parser.add_argument(
        "--greeted", type=counts, default=[], help="connections greeted, never logged in"
    )
    parser.add_argument("--latency-messages", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds per scenario run")
    parser.add_argument(
        "--only", nargs="*", help="run only these scenarios (and 'held', 'logins', 'greeted', 's3')"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    args.popd_env = dict(args.popd_env)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    most = max([*args.held, *args.held_ours], default=0)
    layout = Layout(
        small_count=args.small,
        large_count=args.large,
        idle_mailboxes=max(most + args.logins, args.login_mailboxes),
        app_mailboxes=max(most + args.logins, args.login_mailboxes)
        if args.held_app
        else args.login_mailboxes,
    )
    if not Path(DOVECOT).exists():
        raise SystemExit(f"{DOVECOT} is missing: apt-get install dovecot-pop3d")
    if os.geteuid() != 0:
        raise SystemExit("run as root: Dovecot drops to its own users for login and mail")
    # Dovecot's master holds descriptors per child as well: leave it room.
    raise_fd_limit(2 * max([most, *args.greeted]) + 1024)
    header = describe_run(args)
    print(header, flush=True)
    with tempfile.TemporaryDirectory(prefix="popdrop-bench-") as directory:
        work = Path(directory)
        work.chmod(0o755)  # Dovecot's processes run as other users
        with moto_server(work) as storage:
            started = time.monotonic()
            fill(storage.endpoint, layout)
            from popd.tls import write_self_signed  # noqa: PLC0415

            cert, key = write_self_signed(work / "tls")
            prepare(work / "dovecot", layout, cert, key, ("PLAIN", args.dovecot_scheme))
            print(f"# filled both in {time.monotonic() - started:.0f} s", flush=True)
            results = run_all(args, layout, work, storage)
    args.out.mkdir(parents=True, exist_ok=True)
    table = f"{header}\n{describe_load()}\n\n{report(results, args, hashed_name(args))}"
    (args.out / "results.json").write_text(
        json.dumps([result.summary() for result in results], indent=1)
    )
    (args.out / "results.md").write_text(table)
    print(table)
    return 0


def describe_run(args: argparse.Namespace) -> str:
    commit: str = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    flags = " ".join(sys.argv[1:])
    return f"<!-- {time.strftime('%Y-%m-%d %H:%M')} commit {commit} bench/run.py {flags} -->\n" + (
        describe_load()
    )


def describe_load() -> str:
    """The machine's load average: other work on the two cores shows here."""
    one, five, fifteen = os.getloadavg()
    return f"<!-- load average {one:.2f} {five:.2f} {fifteen:.2f} -->"


def run_all(args: argparse.Namespace, layout: Layout, work: Path, storage: Storage) -> list[Result]:
    results: list[Result] = []
    classic = [*scenarios(args, layout), "greeted"]
    if any(wanted(args, name) for name in classic):
        with (
            popdrop_serve(work, storage, env=args.popd_env) as ours,
            dovecot(work / "dovecot") as theirs,
        ):
            results += asyncio.run(compare(args, layout, ours.target, theirs.target))
    results += fresh_runs(args, layout, work, storage)
    if wanted(args, "s3"):
        upstream = storage.endpoint.removeprefix("http://")
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "s3_latency_proxy.py"),
                "--upstream",
                upstream,
                "--delay-ms",
                str(args.delay_ms),
                "--jitter-ms",
                str(args.jitter_ms),
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert proxy.stdout is not None
            proxy_url = proxy.stdout.readline().decode().strip()
            with (
                popdrop_serve(work, storage, env=args.popd_env) as ours,
                popdrop_serve(work, proxy_url, "popdrop-s3lat", env=args.popd_env) as delayed,
            ):
                results += asyncio.run(s3_latency(args, layout, ours.target, delayed.target))
        finally:
            stop(proxy)
    return results


if __name__ == "__main__":
    sys.exit(main())
