"""Issue 6's pure parts: plus-addressing, the verdict policy, routes, the headers SES writes, the
recipient headers, and the S3 / EventBridge event parsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from popdrop.events import InvalidEvent, event_source, parse_s3_event, ses_event
from popdrop.ingest.headers import MAX_HEADER_RECIPIENTS, header_recipients, header_verdicts
from popdrop.model import Disposition, Policy, Route, Verdicts, split_plus
from tests.support import eventbridge_s3_event, s3_event


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("user+tag@example.test", ("user@example.test", "tag")),
        ("user+a+b@example.test", ("user@example.test", "a+b")),
        ("user+@example.test", ("user@example.test", "")),
        ("user@example.test", ("user@example.test", "")),
        ("+tag@example.test", ("+tag@example.test", "")),  # no base: not a plus-address
    ],
)
def test_plus_addressing_splits_the_tag_from_the_local_part(
    address: str, expected: tuple[str, str]
) -> None:
    assert split_plus(address) == expected


def test_the_default_policy_drops_viruses_and_quarantines_spam() -> None:
    policy = Policy()
    assert policy.disposition(Verdicts(virus="FAIL")) == (Disposition.DROP, "virus=FAIL")
    assert policy.disposition(Verdicts(spam="FAIL")) == (Disposition.QUARANTINE, "spam=FAIL")
    assert policy.disposition(Verdicts(spf="FAIL", dkim="FAIL", dmarc="FAIL")) == (
        Disposition.DELIVER,
        "",
    )


def test_negative_quotas_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Policy(max_messages=-1)


def test_a_route_needs_a_target() -> None:
    """Addresses are canonical by type (normalised where they enter); a route without targets
    cannot exist."""
    with pytest.raises(ValueError, match="at least one"):
        Route("team@example.test", ())


def test_ses_verdict_headers_are_read_from_the_top_copy_only() -> None:
    block = (
        b"X-SES-Spam-Verdict: fail\r\nX-SES-Virus-Verdict: PASS\r\n"
        b"Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=x;\r\n"
        b" dkim=temperror; dmarc=fail header.from=x\r\n"
        b"X-SES-Virus-Verdict: FAIL\r\n\r\n"
    )
    assert header_verdicts(block) == Verdicts(
        spam="FAIL", virus="PASS", spf="PASS", dkim="GRAY", dmarc="FAIL"
    )


def test_authentication_results_from_another_server_are_ignored() -> None:
    block = b"Authentication-Results: mx.evil.test; spf=fail; dmarc=fail\r\n\r\n"
    assert header_verdicts(block) == Verdicts()


def test_recipient_headers_are_read_in_order_and_bounded() -> None:
    block = (
        b"Delivered-To: a@example.test\r\nX-Original-To: b@example.test\r\n"
        b"To: C <c@example.test>, undisclosed-recipients:;\r\nCc: d@example.test\r\n\r\n"
    )
    assert header_recipients(block) == [f"{x}@example.test" for x in "abcd"]
    many = b"To: " + b", ".join(b"u%d@example.test" % n for n in range(500)) + b"\r\n\r\n"
    assert len(header_recipients(many)) == MAX_HEADER_RECIPIENTS


def test_an_s3_notification_key_is_form_decoded() -> None:
    event = s3_event("bucket", "incoming/a b+c", 12, timestamp_ms=1_000)
    [obj] = parse_s3_event(event)
    assert (obj.bucket, obj.key, obj.size, obj.timestamp_ms) == (
        "bucket",
        "incoming/a b+c",
        12,
        1000,
    )


def test_event_sources_are_told_apart() -> None:
    assert event_source(ses_event("m", ["a@example.test"], timestamp_ms=1)) == "aws:ses"
    assert event_source(s3_event("b", "k", 1, timestamp_ms=1)) == "aws:s3"
    assert event_source(eventbridge_s3_event("b", "k", 1, timestamp_ms=1)) == "aws:s3"
    with pytest.raises(InvalidEvent, match="expected aws:ses or aws:s3"):
        event_source({"Records": [{"eventSource": "aws:sqs"}]})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(eventName="ObjectRemoved:Delete"), "expected ObjectCreated"),
        (lambda r: r["s3"]["object"].update(size=-1), "non-negative"),
        (lambda r: r["s3"]["object"].pop("key"), "key: missing"),
        (lambda r: r.update(eventTime="yesterday"), "not an ISO-8601 time"),
    ],
)
def test_a_malformed_s3_notification_is_refused_with_where_and_why(
    mutate: Callable[[dict[str, Any]], object], message: str
) -> None:
    event = s3_event("b", "incoming/k", 1, timestamp_ms=1)
    mutate(event["Records"][0])
    with pytest.raises(InvalidEvent, match=message):
        parse_s3_event(event)


def test_an_eventbridge_event_of_another_kind_is_refused() -> None:
    event = eventbridge_s3_event("b", "k", 1, timestamp_ms=1)
    event["detail-type"] = "Object Deleted"
    with pytest.raises(InvalidEvent, match="Object Created"):
        parse_s3_event(event)
