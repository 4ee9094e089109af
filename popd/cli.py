"""The `popdrop` command: the local stack, the daemon, the API, and operator commands.

Every subcommand is a thin composition of the library; configuration comes from POPDROP_* and the
standard AWS variables, and flags override them. This is a composition root: it builds the `Store`
and hands each command the storage face it uses. Addresses are normalised here, as the arguments
are parsed, and nowhere after.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from popd import collector, folder_admin
from popdrop.faces.admin import GC_GRACE_SECONDS
from popdrop.model import (
    Address,
    Disposition,
    InvalidAddress,
    normalize_address,
    normalize_route_address,
)

# Each command imports what it runs inside its branch of `_dispatch`: FastAPI, the daemon, the
# ingest pipeline and cryptography cost about a second together, and `popdrop mailbox list` needs
# none of them (tests/integration/cli/test_cli_imports.py holds every command to this).


class _VersionAction(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        print(f"popdrop {version('popdrop')}")
        parser.exit()


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


# One exit-status scheme for every command (EXIT_STATUS is its `popdrop --help` text).
EXIT_FAILED = 1
EXIT_REFUSED = 2  # argparse's own status for a malformed command line
EXIT_STATUS = """exit status:
  0    done
  1    failed: storage is unreachable or failing, or a port to listen on is in use or
       not permitted; the same command may work once that is fixed
  2    refused: invalid arguments or configuration, no such mailbox, alias or
       message, or it exists already; nothing was changed
  130  interrupted (Ctrl-C)
errors are one line on standard error: "popdrop: WHAT: DETAIL"
"""

# The failures a command reports as one line, the first that matches: (module, type, exit status,
# what the line says first). A module that was never imported cannot have raised its type, so
# looking it up in sys.modules keeps the error path as lazy as the commands.
_REPORTED_FAILURES = (
    ("pydantic", "ValidationError", EXIT_REFUSED, "invalid configuration: "),
    ("popdrop.storage_settings", "InvalidConfiguration", EXIT_REFUSED, "invalid configuration: "),
    ("popd.admin", "UsageError", EXIT_REFUSED, ""),
    ("popdrop.admin.errors", "AdminError", EXIT_REFUSED, ""),
    ("popd.certificates", "CertificateError", EXIT_REFUSED, ""),
    ("popdrop.faces.faults", "MailboxNotFound", EXIT_REFUSED, "no such mailbox: "),
    ("popdrop.faces.faults", "MailboxExists", EXIT_REFUSED, "mailbox already exists: "),
    ("popdrop.faces.faults", "AppPasswordConflict", EXIT_REFUSED, ""),
    ("popdrop.faces.faults", "AppPasswordNotFound", EXIT_REFUSED, ""),
    ("popdrop.faces.faults", "StoreError", EXIT_FAILED, ""),
    ("popd.listener", "ListenError", EXIT_FAILED, ""),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="popdrop",
        description=__doc__,
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_dev_command(commands)

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
    import_ = actions.add_parser(
        "import", help="create mailboxes from a CSV or JSON-lines file (idempotent, resumable)"
    )
    import_.add_argument("file", type=Path, metavar="FILE")
    import_.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="the file's format (default: from its suffix, .csv or .jsonl/.ndjson)",
    )
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
    folder_admin.add_parser(commands, _address)

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


def _add_dev_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser("dev", help="run the whole stack on loopback against moto")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--pop3-port", type=_port, default=1110)
    dev.add_argument("--pop3s-port", type=_port, default=1995)
    dev.add_argument("--smtp-port", type=_port, default=2525)
    dev.add_argument("--api-port", type=_port, default=8080)
    dev.add_argument("--aws-port", type=_port, default=0, help="moto's port (default: a free one)")
    dev.add_argument("--state-dir", type=Path, default=Path(".popdrop-dev"))
    dev.add_argument("--env-file", type=Path, help="also write the shell exports to this file")


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
            f"--{kind}", choices=[case.value for case in Disposition], help=f"what {kind}=FAIL does"
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
        help="list every object under the prefix, not only what arrived since the last run",
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
    # Start-up (importing botocore, loading its models, building clients) makes a few hundred
    # thousand objects that live as long as the process and almost no garbage, yet CPython's
    # collector walks them again and again as they grow: about a seventh of `popdrop mailbox
    # list`. It is off until the command has started (`_started`), or the command has ended.
    gc.disable()
    try:
        args = build_parser().parse_args(argv)
        from popdrop.logfmt import configure as configure_logging

        configure_logging()
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        for module_name, type_name, status, prefix in _REPORTED_FAILURES:
            module = sys.modules.get(module_name)
            if module is not None and isinstance(error, getattr(module, type_name)):
                print(f"popdrop: {prefix}{error}", file=sys.stderr)
                return status
        raise
    finally:
        gc.enable()


def _started() -> None:
    """Start-up is over: what it made is never walked by the collector again (`gc.freeze`), nor
    are the survivors of later full passes (popd/collector.py), and the collector is back on for
    the command's own work."""
    gc.freeze()
    collector.install()
    gc.enable()


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
            from popd import event_loop
            from popd.devstack import DevOptions, run_dev

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
            _started()
            return event_loop.run(run_dev(options))
        case "serve":
            import logging

            from popd import event_loop
            from popd.allocator import tune_malloc
            from popd.server import serve_forever
            from popdrop.logfmt import log_event
            from popdrop.settings import Settings
            from popdrop.store import Store
            from popdrop.store.secrets import Secrets

            # Before any thread starts: glibc's malloc for many sessions and threaded hashes.
            log_event(logging.getLogger("popd.server"), "popd.malloc", **tune_malloc())
            settings = Settings(**overrides)
            store = Store.from_settings(settings)
            _started()
            return event_loop.run(serve_forever(settings, store, Secrets.from_environment))
        case "api":
            import uvicorn

            from popdrop.api.app import create_app
            from popdrop.settings import Settings

            settings = Settings()
            _started()
            uvicorn.run(
                create_app(),
                host=args.host or settings.api_host,
                port=settings.api_port if args.port is None else args.port,
            )
            return 0
    return _operator_command(args)


def _operator_command(args: argparse.Namespace) -> int:
    """The operator commands, each handed the store as the face it uses. They read only where
    the data is (`StorageSettings`), not the daemon's whole configuration: pydantic, which that
    needs, would be a third of their start-up."""
    from popdrop.storage_settings import StorageSettings
    from popdrop.store import Store

    store = Store.from_settings(StorageSettings.from_environment())
    _started()
    match args.command:
        case "mailbox" if args.action == "app-password":
            from popd import admin

            return admin.app_password(
                store, args.app_action, args.address, args.name if "name" in args else None
            )
        case "mailbox" if args.action == "policy":
            from popd import ingest_admin

            kinds = ("spam", "virus", "spf", "dkim", "dmarc", "max_messages", "max_octets")
            return ingest_admin.policy(
                store, args.address, {name: getattr(args, name) for name in kinds}
            )
        case "mailbox" if args.action == "import":
            from popd.mailbox_import import import_mailboxes

            return import_mailboxes(store, args.file, file_format=args.format)
        case "mailbox":
            from popd import admin

            return admin.mailbox(
                store,
                args.action,
                getattr(args, "address", None),
                password_stdin=getattr(args, "password_stdin", False),
            )
        case "deliver":
            from popd import admin

            return admin.deliver(store, args.to, args.files)
        case "gc":
            from popd import admin

            return admin.collect_garbage(
                store, grace_seconds=args.grace_seconds, dry_run=args.dry_run, full=args.full
            )
        case "reconcile":
            from popd import ingest_admin
            from popdrop.settings import Settings

            grace = Settings().reconcile_grace_seconds if args.grace is None else args.grace
            return ingest_admin.reconcile(
                store, grace_seconds=grace, limit=args.limit, full=args.full
            )
        case "alias":
            from popd import ingest_admin

            return ingest_admin.alias(
                store, args.action, getattr(args, "address", None), getattr(args, "targets", ())
            )
        case "folder":
            return folder_admin.run(store, args)
        case "quarantine":
            from popd import ingest_admin

            return ingest_admin.quarantine(
                store, args.action, args.address, getattr(args, "uid", None)
            )
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
