"""The container's health check: `python -m popd.healthcheck` (infra/Containerfile HEALTHCHECK and
the ECS task definition's healthCheck). Exit status 0 when popd accepts and answers on its plain
port on loopback within the timeout, 1 otherwise.

When loopback is among the trusted PROXY networks (as template.yaml sets it), the check sends a
PROXY v2 LOCAL header, which popd answers like a load balancer's probe: accepted and closed, no
session and no log line. Otherwise it reads the greeting and says QUIT, a session like any other.
Imports only the settings and the socket module: it runs every 30 seconds.
"""

from __future__ import annotations

import socket
import struct
import sys

from popd.listener import is_trusted
from popdrop.proxy_protocol import V2_SIGNATURE
from popdrop.settings import Settings

TIMEOUT = 5.0
LOOPBACK = "127.0.0.1"
# Version 2, command LOCAL, family UNSPEC, no address block (PROXY protocol spec §2.2).
LOCAL_HEADER = V2_SIGNATURE + struct.pack("!BBH", 0x20, 0x00, 0)


def check(settings: Settings) -> str | None:
    """None when healthy, else what is wrong."""
    try:
        with socket.create_connection((LOOPBACK, settings.pop3_port), timeout=TIMEOUT) as sock:
            if is_trusted(LOOPBACK, settings.proxy_trusted_networks):
                sock.sendall(LOCAL_HEADER)
                leftover = sock.recv(64)
                return None if leftover == b"" else f"unexpected reply {leftover[:40]!r}"
            replies = sock.makefile("rb")
            greeting = replies.readline(512)
            if not greeting.startswith(b"+OK"):
                return f"unexpected greeting {greeting[:40]!r}"
            sock.sendall(b"QUIT\r\n")
            replies.readline(512)  # the sign-off, so the session ends as a QUIT, not a drop
            return None
    except OSError as error:
        return f"{LOOPBACK}:{settings.pop3_port}: {error}"


def main() -> int:
    problem = check(Settings())
    if problem is not None:
        print(f"popd unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
