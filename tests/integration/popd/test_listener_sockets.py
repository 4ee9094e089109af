"""How the listener sets up accepted sockets (issue 7: found by bench/loadgen.py's pipelined
scenario, where every reply after the first of a pipelined batch waited 40 ms)."""

from __future__ import annotations

import asyncio
import socket

from popd import event_loop
from popd.listener import Listener


async def nodelay_of_accepted_socket() -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listener = Listener(handler, tls=None, trusted_proxies=())
    port = await listener.start("127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        return value
    finally:
        await listener.close()


def test_accepted_sockets_have_nagle_disabled_so_pipelined_replies_are_not_held() -> None:
    """RFC 2449 §6.6 PIPELINING: a client sends several commands in one write and the server
    answers each as it goes; with Nagle's algorithm on, each reply after the first waits for the
    client's delayed ACK. The listener must set TCP_NODELAY on every accepted socket."""
    assert event_loop.run(nodelay_of_accepted_socket()) != 0
