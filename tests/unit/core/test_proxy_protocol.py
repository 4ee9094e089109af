"""PROXY protocol header parsing (HAProxy spec v1 §2.1, v2 §2.2): exact lengths, strict syntax."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popdrop.proxy_protocol import (
    V2_MAX_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    looks_like_proxy_header,
    parse,
)


def v2(
    source: str = "203.0.113.7",
    destination: str = "10.0.0.1",
    ports: tuple[int, int] = (51000, 110),
    *,
    command: int = 0x1,
    tlvs: bytes = b"",
) -> bytes:
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if src.version == 4 else 0x21
    block = src.packed + dst.packed + struct.pack("!HH", *ports) + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


V1_TCP4 = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 110\r\n"
V1_TCP6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 995\r\n"
NLB_TLV = bytes([0xEA, 0x00, 0x0D, 0x01]) + b"vpce-0123456"  # AWS's VPC endpoint id TLV


@pytest.mark.parametrize(
    ("header", "source"),
    [
        (v2(), ("203.0.113.7", 51000)),
        (v2("2001:db8::7", "2001:db8::1"), ("2001:db8::7", 51000)),
        (v2(tlvs=NLB_TLV), ("203.0.113.7", 51000)),
        (V1_TCP4, ("203.0.113.7", 51000)),
        (V1_TCP6, ("2001:db8::7", 51000)),
    ],
    ids=["v2-tcp4", "v2-tcp6", "v2-with-nlb-tlv", "v1-tcp4", "v1-tcp6"],
)
def test_a_header_names_the_client_and_its_exact_length(
    header: bytes, source: tuple[str, int]
) -> None:
    parsed = parse(header + b"+client bytes that must stay unread")
    assert isinstance(parsed, ProxyHeader)
    assert parsed.length == len(header)
    assert parsed.source == source


@pytest.mark.parametrize(
    "header",
    [b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"],
    ids=["v1-unknown", "v1-unknown-with-addresses"],
)
def test_unknown_headers_leave_the_connection_address_v2_s2_1(header: bytes) -> None:
    parsed = parse(header)
    assert parsed == ProxyHeader(len(header))


def test_a_v2_local_header_is_the_proxys_own_connection_v2_s2_2() -> None:
    """LOCAL: the proxy opened the connection itself (NLB health checks); no client address."""
    header = v2(command=0x0)
    assert parse(header) == ProxyHeader(len(header), local=True)


@pytest.mark.parametrize("header", [v2(), v2(tlvs=NLB_TLV), V1_TCP4, V1_TCP6, v2(command=0)])
def test_every_prefix_asks_for_more_without_reading_past_the_header(header: bytes) -> None:
    """The caller reads exactly what `parse` asks for, so the octet after the header (a command or
    a TLS ClientHello) is never consumed: each answer is more than we have, never past the end."""
    for have in range(len(header)):
        needed = parse(header[:have])
        assert isinstance(needed, int)
        assert have < needed <= len(header)


@pytest.mark.parametrize(
    "data",
    [
        b"\r\n\r\n\x00\r\nQUIX\n" + bytes(4),  # broken signature
        V2_SIGNATURE + bytes([0x10, 0x11, 0, 12]) + bytes(12),  # version 1 in a v2 header
        V2_SIGNATURE + bytes([0x22, 0x11, 0, 12]) + bytes(12),  # command 2 does not exist
        V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", V2_MAX_LENGTH),  # too long
        V2_SIGNATURE + bytes([0x21, 0x11, 0, 4]) + bytes(4),  # address block too short
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",  # leading zero in a port
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",  # port out of range
        b"PROXY TCP4 ::1 ::2 1 2\r\n",  # family mismatch
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",  # unknown protocol
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",  # missing field
        b"PROXY TCP4 999.2.3.4 5.6.7.8 1 2\r\n",  # not an address
        b"PROXY " + b"A" * 120,  # no CRLF within 107 octets
        b"USER alice\r\n",  # not a header at all
    ],
)
def test_malformed_headers_are_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse(data)


def test_a_header_is_recognised_by_its_first_six_octets() -> None:
    assert looks_like_proxy_header(v2())
    assert looks_like_proxy_header(V1_TCP4)
    assert not looks_like_proxy_header(b"CAPA\r\n")
    assert not looks_like_proxy_header(b"\r\n")


@given(st.binary(max_size=300))
def test_any_bytes_give_a_header_a_need_or_a_refusal(data: bytes) -> None:
    try:
        result = parse(data)
    except ProxyHeaderError:
        return
    if isinstance(result, int):
        assert len(data) < result <= V2_MAX_LENGTH
    else:
        assert result.length <= len(data)
