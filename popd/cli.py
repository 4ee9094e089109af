"""The `popdrop` command: the local stack, the daemon, the API, and operator commands.

Every subcommand is a thin composition of the library; configuration comes from POPDROP_* and the
standard AWS variables, and flags override them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from popd import admin
from popd.devstack import DevOptions, run_dev
from popd.server import serve_forever
from popdrop.api.app import create_app
from popdrop.logfmt import configure as configure_logging
from popdrop.model import InvalidAddress
from popdrop.settings import Settings
from popdrop.store.errors import StoreError


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


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
    add.add_argument("address")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("list", help="list mailboxes")
    passwd = actions.add_parser("passwd", help="set a mailbox's password")
    passwd.add_argument("address")
    passwd.add_argument("--password-stdin", action="store_true")
    remove = actions.add_parser("remove", help="remove a mailbox and its messages")
    remove.add_argument("address")

    deliver = commands.add_parser("deliver", help="deliver message files through ingest")
    deliver.add_argument("--to", action="append", required=True, metavar="ADDRESS")
    deliver.add_argument("files", nargs="+", metavar="FILE", help="message files, or - for stdin")

    gc = commands.add_parser("gc", help="delete stored messages that no mailbox references")
    gc.add_argument(
        "--grace-seconds",
        type=float,
        default=admin.GC_GRACE_SECONDS,
        help="leave unreferenced objects younger than this alone (default: two days)",
    )
    gc.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    return parser


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
    except (admin.UsageError, InvalidAddress) as error:
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
            return asyncio.run(serve_forever(Settings(**overrides)))
        case "api":
            settings = Settings()
            uvicorn.run(
                create_app(),
                host=args.host or settings.api_host,
                port=settings.api_port if args.port is None else args.port,
            )
            return 0
        case "mailbox":
            return admin.mailbox(
                Settings(),
                args.action,
                getattr(args, "address", None),
                password_stdin=getattr(args, "password_stdin", False),
            )
        case "deliver":
            return admin.deliver(Settings(), args.to, args.files)
        case "gc":
            return admin.collect_garbage(
                Settings(), grace_seconds=args.grace_seconds, dry_run=args.dry_run
            )
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
