"""PROXY protocol v1 and v2 (HAProxy's spec, as AWS NLB sends it): a sans-IO header parser.

A load balancer that terminates nothing but TCP prepends one header that names the real client.
`parse` looks at the bytes read so far and says either how many octets it needs in total before it
can decide, or what the header holds and how long it is — so the caller reads *exactly* the header
off the socket and leaves the next octet (a POP3 command, or a TLS ClientHello) unread.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
# v1 (spec §2.1): at most 107 octets including the CRLF.
V1_MAX_LENGTH = 107
# v2 (spec §2.2): a 16-octet fixed part, then the address block and TLVs. NLB adds a few TLVs
# (VPC endpoint id, ...); anything near the 64 KiB the length field allows is an attack.
V2_FIXED_LENGTH = 16
V2_MAX_LENGTH = 4096

_V2_COMMAND_LOCAL, _V2_COMMAND_PROXY = 0x0, 0x1
_V2_TCP4, _V2_TCP6 = 0x11, 0x21
_V2_ADDRESS_LENGTH = {_V2_TCP4: 12, _V2_TCP6: 36}


class ProxyHeaderError(ValueError):
    """The octets are not a valid PROXY header: the connection must be closed."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete header: its length, and the client it names (None for LOCAL/UNKNOWN, where the
    connection's own peer address stands, e.g. the load balancer's health checks)."""

    length: int
    source: tuple[str, int] | None = None
    destination: tuple[str, int] | None = None
    # v2's LOCAL command: the proxy opened this connection itself (a health check), not a client.
    local: bool = False


def looks_like_proxy_header(data: bytes) -> bool:
    """True when `data` opens like either version's header: six octets decide, so a client's
    ordinary first command is never mistaken for one."""
    return data.startswith((V2_SIGNATURE[:6], V1_PREFIX))


def parse(data: bytes) -> ProxyHeader | int:
    """The header at the start of `data`, or the total number of octets needed to decide.

    Raises ProxyHeaderError as soon as the octets cannot begin a valid header.
    """
    if not data:
        return 1
    if data[0:1] == V2_SIGNATURE[0:1]:
        return _parse_v2(data)
    if data[0:1] == V1_PREFIX[0:1]:
        return _parse_v1(data)
    raise ProxyHeaderError("not a PROXY protocol header")


def _parse_v2(data: bytes) -> ProxyHeader | int:
    probe = min(len(data), len(V2_SIGNATURE))
    if data[:probe] != V2_SIGNATURE[:probe]:
        raise ProxyHeaderError("bad PROXY v2 signature")
    if len(data) < V2_FIXED_LENGTH:
        return V2_FIXED_LENGTH
    version_command, family, length = struct.unpack_from("!BBH", data, 12)
    if version_command >> 4 != 2:
        raise ProxyHeaderError("unsupported PROXY protocol version")
    total = V2_FIXED_LENGTH + int(length)
    if total > V2_MAX_LENGTH:
        raise ProxyHeaderError("PROXY v2 header too long")
    command = version_command & 0x0F
    if command not in (_V2_COMMAND_LOCAL, _V2_COMMAND_PROXY):
        raise ProxyHeaderError("unknown PROXY v2 command")
    if len(data) < total:
        return total
    if command == _V2_COMMAND_LOCAL:
        # The proxy's own connection, e.g. an NLB health check (spec §2.2: its endpoints stand).
        return ProxyHeader(total, local=True)
    if family not in _V2_ADDRESS_LENGTH:
        # An address family we do not route on (UDP, UNIX): the connection's own endpoints stand
        # (spec §2.2: the receiver must accept it and ignore the address block).
        return ProxyHeader(total)
    if length < _V2_ADDRESS_LENGTH[family]:
        raise ProxyHeaderError("PROXY v2 address block too short")
    block = data[V2_FIXED_LENGTH : V2_FIXED_LENGTH + _V2_ADDRESS_LENGTH[family]]
    size = 4 if family == _V2_TCP4 else 16
    source = ipaddress.ip_address(block[:size])
    destination = ipaddress.ip_address(block[size : 2 * size])
    source_port, destination_port = struct.unpack_from("!HH", block, 2 * size)
    return ProxyHeader(total, (str(source), source_port), (str(destination), destination_port))


def _parse_v1(data: bytes) -> ProxyHeader | int:
    probe = min(len(data), len(V1_PREFIX))
    if data[:probe] != V1_PREFIX[:probe]:
        raise ProxyHeaderError("bad PROXY v1 prefix")
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise ProxyHeaderError("PROXY v1 header too long")
        # One more octet at a time: v1 has no length field, and reading past the CRLF would eat
        # the client's first bytes.
        return len(data) + 1
    fields = data[len(V1_PREFIX) : end].split(b" ")
    if fields[0] == b"UNKNOWN":
        return ProxyHeader(end + 2)
    if len(fields) != 5 or fields[0] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 header")
    version = 4 if fields[0] == b"TCP4" else 6
    try:
        source = ipaddress.ip_address(fields[1].decode("ascii"))
        destination = ipaddress.ip_address(fields[2].decode("ascii"))
        ports = [_v1_port(field) for field in fields[3:5]]
    except (UnicodeDecodeError, ValueError) as error:
        raise ProxyHeaderError("malformed PROXY v1 address") from error
    if source.version != version or destination.version != version:
        raise ProxyHeaderError("PROXY v1 address family mismatch")
    return ProxyHeader(end + 2, (str(source), ports[0]), (str(destination), ports[1]))


def _v1_port(field: bytes) -> int:
    # Spec §2.1: decimal, no leading zeros, 0..65535.
    if not field.isdigit() or (len(field) > 1 and field.startswith(b"0")) or len(field) > 5:
        raise ValueError("bad port")
    port = int(field)
    if port > 65535:
        raise ValueError("bad port")
    return port
