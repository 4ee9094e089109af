"""Reply formatting: status lines (RFC 1939 §3), response codes (RFC 2449 §8, RFC 3206), and
multi-line responses; nothing a reply carries can forge a line."""

from __future__ import annotations

import pytest

from popdrop.pop3 import replies
from popdrop.pop3.replies import ResponseCode


def test_a_positive_status_line_rfc1939_s3() -> None:
    assert replies.ok("Logged in.") == b"+OK Logged in.\r\n"
    assert replies.ok() == b"+OK\r\n"


def test_a_negative_status_line_rfc1939_s3() -> None:
    assert replies.err("No such message.") == b"-ERR No such message.\r\n"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (ResponseCode.IN_USE, "IN-USE"),
        (ResponseCode.LOGIN_DELAY, "LOGIN-DELAY"),
        (ResponseCode.SYS_TEMP, "SYS/TEMP"),
        (ResponseCode.SYS_PERM, "SYS/PERM"),
        (ResponseCode.AUTH, "AUTH"),
    ],
)
def test_response_codes_follow_err_in_brackets_rfc2449_s8_rfc3206(
    code: ResponseCode, text: str
) -> None:
    assert replies.err("Reason.", code) == f"-ERR [{text}] Reason.\r\n".encode()


def test_a_multiline_response_ends_with_a_dot_line_rfc1939_s3() -> None:
    assert replies.multiline(replies.ok("2 messages"), ["1 120", "2 200"]) == (
        b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
    )
    assert replies.multiline(replies.ok(), []) == b"+OK\r\n.\r\n"


def test_a_multiline_line_starting_with_a_dot_is_stuffed_rfc1939_s3() -> None:
    assert replies.multiline(replies.ok(), [".hidden"]) == b"+OK\r\n..hidden\r\n.\r\n"


@pytest.mark.parametrize("text", ["a\r\n+OK forged", "a\nb", "a\rb", "nul\x00", "caf\u00e9"])
def test_reply_text_must_be_printable_ascii_so_no_line_can_be_forged(text: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        replies.ok(text)
    with pytest.raises(ValueError, match="printable ASCII"):
        replies.err(text)
    with pytest.raises(ValueError, match="printable ASCII"):
        replies.multiline(replies.ok(), [text])
