"""The benches' storage host: moto's server with the fixes `popdrop dev` applies for a big
table and its compact storage of items and objects (docs/dev-stack.md). Plain `moto.server`
copied the whole table in every transaction and kept every item version it ever made; at 10,000
held sessions it grew past 10 GB and took a whole core for the logins' lease writes, and the
logins, not popdrop, timed out (docs/performance.md).

    python bench/moto_host.py -H 127.0.0.1 -p PORT     # moto.server's own arguments
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import moto.dynamodb.models
import moto.s3.models  # noqa: F401 - registers the S3 models whose tracking is turned off
from moto.server import ThreadedMotoServer, main

from popd import collector, moto_compact, moto_queries, moto_transactions


@contextmanager
def in_this_process(**environment: str) -> Iterator[str]:
    """moto's server (as this process has patched it) on a free loopback port, with the AWS
    variables, and any others given, pointing boto3 and `Settings` at it; yields its endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            **environment,
        )
        yield endpoint
    finally:
        server.stop()


def run(argv: list[str]) -> None:
    moto_transactions.install()
    moto_transactions.untrack_instances("dynamodb", "s3")
    moto_compact.install()
    moto_queries.install()
    # As `popdrop dev` (every popdrop command) after start-up: a full pass walks only what is new,
    # not the whole table it holds (popd/collector.py); without it a pass took up to 0.2 s at
    # 10,000 mailboxes, which the benches' logins waited through.
    gc.freeze()
    collector.install()
    main(argv)


if __name__ == "__main__":
    run(sys.argv[1:])
