"""`popdrop dev`: the whole product on loopback, with moto's server playing AWS.

One foreground process: moto's server, the bucket and table (the same definitions the template
deploys), a demo mailbox, the SMTP stand-in for SES, POP3 with STLS, POP3S and the REST API. A
composition root: it builds the `Store` and hands each server its face.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn
from moto.server import ThreadedMotoServer

from popd import moto_compact, moto_queries
from popd.devstate import DevState
from popd.listener import bound_socket
from popd.server import Pop3Daemon
from popd.signals import until_stop_signal
from popd.smtp_ingress import start_smtp
from popd.tls import write_self_signed
from popdrop.api.app import create_app
from popdrop.auth.passwords import hash_password
from popdrop.auth.scram import derive_keys
from popdrop.faces.faults import MailboxExists
from popdrop.model import Address
from popdrop.settings import PlaintextAuth, Settings
from popdrop.store import Store
from popdrop.store.secrets import Secrets

DEMO_ADDRESS = Address("demo@popdrop.test")
REGION = "us-east-1"
API_START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class DevOptions:
    host: str
    pop3_port: int
    pop3s_port: int
    smtp_port: int
    api_port: int
    aws_port: int
    state_dir: Path
    env_file: Path | None


class _ApiThread:
    """uvicorn in its own thread and loop, so it neither installs signal handlers nor shares our
    loop's fate; `stop` asks it to exit and waits. The port is bound here, before the thread
    starts, so one in use is a ListenError like the other services'."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = bound_socket(self._host, self._port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="popdrop-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + API_START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the REST API did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def dev_environment(options: DevOptions, endpoint: str, cert: Path, key: Path) -> dict[str, str]:
    """The variables that point every other popdrop command (and any script) at this stack."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # moto accepts any access key: these fixed dev values grant nothing anywhere else.
        "AWS_ACCESS_KEY_ID": "popdrop-dev",
        "AWS_SECRET_ACCESS_KEY": "popdrop-dev",
        "POPDROP_TABLE": "popdrop-dev",
        "POPDROP_BUCKET": "popdrop-dev-mail",
        "POPDROP_INCOMING_PREFIX": "incoming/",
        "POPDROP_TLS_CERT": str(cert),
        "POPDROP_TLS_KEY": str(key),
        "POPDROP_PLAINTEXT_AUTH": PlaintextAuth.LOOPBACK.value,
        "POPDROP_HOST": options.host,
        "POPDROP_API_TOKEN": secrets.token_urlsafe(24),
    }


def render_exports(environment: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environment.items())


async def run_dev(options: DevOptions, out: TextIO = sys.stdout) -> int:
    cert, key = write_self_signed(options.state_dir.resolve())
    moto_compact.install()
    moto_queries.install()
    moto = ThreadedMotoServer(ip_address=options.host, port=options.aws_port, verbose=False)
    moto.start()
    try:
        aws_host, aws_port = moto.get_host_and_port()
        environment = dev_environment(options, f"http://{aws_host}:{aws_port}", cert, key)
        os.environ.update(environment)
        settings = Settings(pop3_port=options.pop3_port, pop3s_port=options.pop3s_port)
        store = Store.from_settings(settings)
        await asyncio.to_thread(store.create_resources)
        state = DevState(options.state_dir / "aws", REGION)
        await asyncio.to_thread(state.start)
        try:
            environment |= await _demo_mailbox(store)
            return await _serve(options, settings, store, environment, out)
        finally:
            await asyncio.to_thread(state.stop)
    finally:
        moto.stop()


async def _demo_mailbox(store: Store) -> dict[str, str]:
    """Create the demo mailbox, or give the one kept from a previous run a fresh password."""
    password = secrets.token_urlsafe(12)
    try:
        await asyncio.to_thread(
            store.create_mailbox, DEMO_ADDRESS, hash_password(password), derive_keys(password)
        )
    except MailboxExists:  # restored from the state dir, or an --aws-port shared with a prior run
        await asyncio.to_thread(
            store.set_password, DEMO_ADDRESS, hash_password(password), derive_keys(password)
        )
    return {"POPDROP_DEMO_ADDRESS": DEMO_ADDRESS, "POPDROP_DEMO_PASSWORD": password}


async def _serve(
    options: DevOptions,
    settings: Settings,
    store: Store,
    environment: dict[str, str],
    out: TextIO,
) -> int:
    smtp = await start_smtp(store, options.host, options.smtp_port)
    daemon = Pop3Daemon(settings, store, secrets=Secrets.from_environment)
    api = _ApiThread(options.host, options.api_port)
    try:
        endpoints = await daemon.start()
        await asyncio.to_thread(api.start)
        smtp_port = smtp.sockets[0].getsockname()[1]
        exports = render_exports(environment)
        if options.env_file is not None:
            _write_private(options.env_file, exports)
        out.write(
            "popdrop dev is running (Ctrl-C stops it)\n"
            f"  SMTP (SES stand-in)  {options.host}:{smtp_port}\n"
            f"  POP3 (STLS)          {options.host}:{endpoints.pop3_port}\n"
            f"  POP3S                {options.host}:{endpoints.pop3s_port}\n"
            f"  REST API             http://{options.host}:{options.api_port}\n"
            f"  AWS (moto)           {environment['AWS_ENDPOINT_URL']}\n"
            f"  demo mailbox         {environment['POPDROP_DEMO_ADDRESS']}"
            f"  password {environment['POPDROP_DEMO_PASSWORD']}\n"
            f"  TLS certificate      {environment['POPDROP_TLS_CERT']}\n"
            "\n# for other popdrop commands and scripts:\n" + exports
        )
        out.flush()
        await until_stop_signal()
        out.write("popdrop dev: stopping\n")
        out.flush()
        return 0
    finally:
        smtp.close()
        await daemon.stop(grace=2.0)
        await asyncio.to_thread(api.stop)
        await smtp.wait_closed()


def _write_private(path: Path, text: str) -> None:
    """Write the exports readable by the owner only: they carry the API token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
