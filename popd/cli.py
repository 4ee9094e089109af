"""The `popdrop` command: the local stack, the daemon, the API, and operator commands.

Every subcommand is a thin composition of the library; configuration comes from POPDROP_* and the
standard AWS variables, and flags override them. This is a composition root: it builds the `Store`
and hands each command the storage face it uses. Addresses are normalised here, as the arguments
are parsed, and nowhere after.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from popd import admin, ingest_admin
from popd.certificates import CertificateError
from popd.server import serve_forever
from popdrop.api.app import create_app
from popdrop.faces.admin import GC_GRACE_SECONDS
from popdrop.faces.faults import StoreError
from popdrop.logfmt import configure as configure_logging
from popdrop.model import Address, InvalidAddress, normalize_address, normalize_route_address
from popdrop.settings import Settings
from popdrop.store import Store
from popdrop.store.secrets import Secrets


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


def _address(text: str) -> Address:
    try:
        return normalize_address(text)
    except InvalidAddress as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _route_address(text: str) -> str:
    try:
        return normalize_route_address(text)
    except InvalidAddress as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="popdrop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="run the whole stack on loopback against moto")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--pop3-port", type=_port, default=1110)
    dev.add_argument("--pop3s-port", type=_port, default=1995)
    dev.add_argument("--smtp-port", type=_port, default=2525)
    dev.add_argument("--api-port", type=_port, default=8080)
    dev.add_argument("--aws-port", type=_port, default=0, help="moto's port (default: a free one)")
    dev.add_argument("--state-dir", type=Path, default=Path(".popdrop-dev"))
    dev.add_argument("--env-file", type=Path, help="also write the shell exports to this file")

    serve = commands.add_parser("serve", help="run the POP3 daemon (configured by POPDROP_*)")
    serve.add_argument("--host")
    serve.add_argument("--pop3-port", type=_port)
    serve.add_argument("--pop3s-port", type=_port)

    api = commands.add_parser("api", help="run the REST API with uvicorn")
    api.add_argument("--host")
    api.add_argument("--port", type=_port)

    mailbox = commands.add_parser("mailbox", help="manage mailboxes")
    actions = mailbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a mailbox")
    add.add_argument("address", type=_address)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("list", help="list mailboxes")
    passwd = actions.add_parser("passwd", help="set a mailbox's password")
    passwd.add_argument("address", type=_address)
    passwd.add_argument("--password-stdin", action="store_true")
    apop = actions.add_parser(
        "apop-secret", help="set a mailbox's APOP secret (used only when POPDROP_APOP is on)"
    )
    apop.add_argument("address", type=_address)
    apop.add_argument("--password-stdin", action="store_true", help="read the secret from stdin")
    remove = actions.add_parser("remove", help="remove a mailbox and its messages")
    remove.add_argument("address", type=_address)
    apps = actions.add_parser("app-password", help="per-device passwords: add, list, revoke")
    app_actions = apps.add_subparsers(dest="app_action", required=True, metavar="ACTION")
    app_add = app_actions.add_parser("add", help="generate a named app password (shown once)")
    app_add.add_argument("address", type=_address)
    app_add.add_argument("name", help="the device, e.g. phone (letters, digits, . _ -)")
    app_list = app_actions.add_parser("list", help="app passwords and their last use")
    app_list.add_argument("address", type=_address)
    app_revoke = app_actions.add_parser("revoke", help="revoke an app password")
    app_revoke.add_argument("address", type=_address)
    app_revoke.add_argument("name")

    deliver = commands.add_parser("deliver", help="deliver message files through ingest")
    deliver.add_argument("--to", action="append", required=True, metavar="ADDRESS", type=_address)
    deliver.add_argument("files", nargs="+", metavar="FILE", help="message files, or - for stdin")
    _add_ingest_commands(commands, actions)

    gc = commands.add_parser("gc", help="delete stored messages that no mailbox references")
    gc.add_argument(
        "--grace-seconds",
        type=float,
        default=GC_GRACE_SECONDS,
        help="leave unreferenced objects younger than this alone (default: two days)",
    )
    gc.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    gc.add_argument(
        "--full",
        action="store_true",
        help="list every stored object and scan the table, not only the garbage index",
    )
    return parser


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _add_ingest_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    mailbox_actions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    policy = mailbox_actions.add_parser(
        "policy", help="show or set a mailbox's verdict policy and quotas"
    )
    policy.add_argument("address", type=_address)
    for kind in ("spam", "virus", "spf", "dkim", "dmarc"):
        policy.add_argument(
            f"--{kind}", choices=ingest_admin.DISPOSITIONS, help=f"what {kind}=FAIL does"
        )
    policy.add_argument("--max-messages", type=_count, help="message quota (0: unlimited)")
    policy.add_argument("--max-octets", type=_count, help="octet quota (0: unlimited)")

    reconcile = commands.add_parser(
        "reconcile", help="ingest stored messages whose event was lost; print a report"
    )
    reconcile.add_argument("--grace", type=_count, metavar="SECONDS", help="minimum object age")
    reconcile.add_argument("--limit", type=_count, default=1000, help="objects ingested per run")
    reconcile.add_argument(
        "--full",
        action="store_true",
        help="look at every object, not only those since the last run",
    )

    alias = commands.add_parser("alias", help="manage aliases and catch-alls (@domain)")
    alias_actions = alias.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = alias_actions.add_parser("add", help="create or replace an alias or catch-all")
    add.add_argument(
        "address", type=_route_address, help="user@domain, or @domain for the domain's catch-all"
    )
    add.add_argument("targets", nargs="+", metavar="MAILBOX", type=_address)
    alias_actions.add_parser("list", help="list aliases and catch-alls")
    remove = alias_actions.add_parser("remove", help="remove an alias or catch-all")
    remove.add_argument("address", type=_route_address)

    quarantine = commands.add_parser("quarantine", help="quarantined messages of a mailbox")
    q_actions = quarantine.add_subparsers(dest="action", required=True, metavar="ACTION")
    q_list = q_actions.add_parser("list", help="list quarantined messages with their reasons")
    q_list.add_argument("address", type=_address)
    for name, text in (("release", "into the maildrop"), ("discard", "and delete it")):
        q_action = q_actions.add_parser(name, help=f"take a message out of quarantine {text}")
        q_action.add_argument("address", type=_address)
        q_action.add_argument("uid")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except ValidationError as error:
        print(f"popdrop: invalid configuration: {error}", file=sys.stderr)
        return 2
    except (admin.UsageError, CertificateError) as error:
        print(f"popdrop: {error}", file=sys.stderr)
        return 2
    except StoreError as error:
        print(f"popdrop: {error}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    overrides = {
        name: value
        for name, value in vars(args).items()
        if name in {"host", "pop3_port", "pop3s_port"} and value is not None
    }
    match args.command:
        case "dev":
            # The local stack needs the `local` extra (moto, aiosmtpd); a production install
            # (the container) has neither, and every other subcommand must work there.
            from popd.devstack import DevOptions, run_dev  # noqa: PLC0415

            options = DevOptions(
                host=args.host,
                pop3_port=args.pop3_port,
                pop3s_port=args.pop3s_port,
                smtp_port=args.smtp_port,
                api_port=args.api_port,
                aws_port=args.aws_port,
                state_dir=args.state_dir,
                env_file=args.env_file,
            )
            return asyncio.run(run_dev(options))
        case "serve":
            settings = Settings(**overrides)
            store = Store.from_settings(settings)
            return asyncio.run(serve_forever(settings, store, Secrets.from_environment))
        case "api":
            settings = Settings()
            uvicorn.run(
                create_app(),
                host=args.host or settings.api_host,
                port=settings.api_port if args.port is None else args.port,
            )
            return 0
    # The operator commands, each handed the store as the face it uses.
    settings = Settings()
    store = Store.from_settings(settings)
    match args.command:
        case "mailbox" if args.action == "app-password":
            return admin.app_password(
                store, args.app_action, args.address, args.name if "name" in args else None
            )
        case "mailbox" if args.action == "policy":
            kinds = ("spam", "virus", "spf", "dkim", "dmarc", "max_messages", "max_octets")
            return ingest_admin.policy(
                store, args.address, {name: getattr(args, name) for name in kinds}
            )
        case "mailbox":
            return admin.mailbox(
                store,
                args.action,
                getattr(args, "address", None),
                password_stdin=getattr(args, "password_stdin", False),
            )
        case "deliver":
            return admin.deliver(store, args.to, args.files)
        case "gc":
            return admin.collect_garbage(
                store, grace_seconds=args.grace_seconds, dry_run=args.dry_run, full=args.full
            )
        case "reconcile":
            grace = settings.reconcile_grace_seconds if args.grace is None else args.grace
            return ingest_admin.reconcile(
                store, grace_seconds=grace, limit=args.limit, full=args.full
            )
        case "alias":
            return ingest_admin.alias(
                store, args.action, getattr(args, "address", None), getattr(args, "targets", ())
            )
        case "quarantine":
            return ingest_admin.quarantine(
                store, args.action, args.address, getattr(args, "uid", None)
            )
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
