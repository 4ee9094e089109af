"""The SES Lambda-action event: parsing what SES sends, and building events of the same shape."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from popdrop.events import ALL_PASS, InvalidEvent, Verdicts, parse_ses_event, ses_event

# An event as the SES developer guide documents it ("Lambda action" sample), values our own.
SAMPLE: dict[str, Any] = {
    "Records": [
        {
            "eventSource": "aws:ses",
            "eventVersion": "1.0",
            "ses": {
                "mail": {
                    "timestamp": "2024-03-01T12:00:00.250Z",
                    "source": "prvs=1a2b3c=sender@example.org",
                    "messageId": "o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1",
                    "destination": ["alice@example.test"],
                    "headersTruncated": False,
                    "headers": [
                        {"name": "Return-Path", "value": "<sender@example.org>"},
                        {"name": "From", "value": "Sender <sender@example.org>"},
                        {"name": "To", "value": "alice@example.test"},
                        {"name": "Subject", "value": "Lunch"},
                    ],
                    "commonHeaders": {
                        "returnPath": "sender@example.org",
                        "from": ["Sender <sender@example.org>"],
                        "to": ["alice@example.test"],
                        "subject": "Lunch",
                    },
                },
                "receipt": {
                    "timestamp": "2024-03-01T12:00:01.000Z",
                    "processingTimeMillis": 750,
                    "recipients": ["alice@example.test", "Bob@Example.test"],
                    "spamVerdict": {"status": "PASS"},
                    "virusVerdict": {"status": "PASS"},
                    "spfVerdict": {"status": "GRAY"},
                    "dkimVerdict": {"status": "FAIL"},
                    "dmarcVerdict": {"status": "PROCESSING_FAILED"},
                    "action": {
                        "type": "Lambda",
                        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ingest",
                        "invocationType": "Event",
                    },
                },
            },
        }
    ]
}
SAMPLE_MS = 1_709_294_400_250  # 2024-03-01T12:00:00.250Z


def test_a_documented_event_parses_into_one_message() -> None:
    [message] = parse_ses_event(SAMPLE)

    assert message.message_id == "o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1"
    assert message.timestamp_ms == SAMPLE_MS
    assert message.source == "prvs=1a2b3c=sender@example.org"
    assert message.recipients == ("alice@example.test", "Bob@Example.test")  # as SES sent them
    assert message.verdicts == Verdicts("PASS", "PASS", "GRAY", "FAIL", "PROCESSING_FAILED")


def test_parsed_messages_are_read_only() -> None:
    [message] = parse_ses_event(SAMPLE)

    with pytest.raises(AttributeError):
        message.message_id = "other"


def test_every_record_of_an_event_is_parsed() -> None:
    event = copy.deepcopy(SAMPLE)
    second = copy.deepcopy(event["Records"][0])
    second["ses"]["mail"]["messageId"] = "second"
    event["Records"].append(second)

    assert [m.message_id for m in parse_ses_event(event)] == [
        "o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1",
        "second",
    ]


def test_absent_verdicts_and_source_are_tolerated() -> None:
    """Scanning can be off in a receipt rule; a bounce has an empty envelope sender."""
    event = copy.deepcopy(SAMPLE)
    del event["Records"][0]["ses"]["receipt"]["spamVerdict"]
    del event["Records"][0]["ses"]["mail"]["source"]

    [message] = parse_ses_event(event)

    assert message.verdicts.spam is None and message.verdicts.virus == "PASS"
    assert message.source == ""


def _mutation(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set (or, for `...`, delete) the value at a dotted path of SAMPLE's first record."""

    def mutate(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = event["Records"][0]
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_mutation("ses", ...), r"Records\[0\]\.ses: missing"),
        (_mutation("ses.mail", ...), r"Records\[0\]\.ses\.mail: missing"),
        (_mutation("ses.receipt", []), r"ses\.receipt: expected an object, got list"),
        (_mutation("eventSource", "aws:s3"), r"eventSource: expected 'aws:ses', got 'aws:s3'"),
        (_mutation("ses.mail.messageId", ...), r"mail\.messageId: missing"),
        (_mutation("ses.mail.messageId", ""), r"mail\.messageId: empty"),
        (_mutation("ses.mail.messageId", 42), r"mail\.messageId: expected a string, got int"),
        (_mutation("ses.mail.timestamp", "yesterday"), r"timestamp: not an ISO-8601 time"),
        (_mutation("ses.mail.timestamp", None), r"mail\.timestamp: missing"),
        (_mutation("ses.mail.source", ["x"]), r"mail\.source: expected a string, got list"),
        (_mutation("ses.receipt.recipients", ...), r"receipt\.recipients: missing"),
        (_mutation("ses.receipt.recipients", []), r"receipt\.recipients: no recipients"),
        (_mutation("ses.receipt.recipients", "a@b.c"), r"recipients: expected a list, got str"),
        (_mutation("ses.receipt.recipients", ["a@b.c", 7]), r"recipients\[1\]: expected a string"),
        (_mutation("ses.receipt.spamVerdict", "PASS"), r"spamVerdict: expected an object"),
        (_mutation("ses.receipt.virusVerdict", {}), r"virusVerdict\.status: missing"),
    ],
)
def test_a_malformed_record_raises_invalid_event_naming_the_field(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    event = copy.deepcopy(SAMPLE)
    mutate(event)

    with pytest.raises(InvalidEvent, match=message):
        parse_ses_event(event)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], r"event: expected an object, got list"),
        ({}, r"event\.Records: missing"),
        ({"Records": {}}, r"event\.Records: expected a list, got dict"),
        ({"Records": []}, r"event\.Records: no records"),
        ({"Records": ["x"]}, r"Records\[0\]: expected an object, got str"),
    ],
)
def test_a_malformed_event_raises_invalid_event(event: Any, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_ses_event(event)


def _shape(value: Any) -> Any:
    """The keys of nested objects and the element shape of lists: the structure, not the data."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_a_built_event_has_the_documented_shape() -> None:
    headers = [
        ("Return-Path", "<sender@example.org>"),
        ("From", "Sender <sender@example.org>"),
        ("To", "alice@example.test"),
        ("Subject", "Lunch"),
    ]
    built = ses_event(
        "o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1",
        ["alice@example.test", "Bob@Example.test"],
        timestamp_ms=SAMPLE_MS,
        source="prvs=1a2b3c=sender@example.org",
        headers=headers,
        processing_ms=750,
    )

    assert _shape(built) == _shape(SAMPLE)
    assert json.loads(json.dumps(built)) == built  # what Lambda would hand the function
    mail = built["Records"][0]["ses"]["mail"]
    assert mail["timestamp"] == "2024-03-01T12:00:00.250Z"
    assert mail["commonHeaders"]["from"] == ["Sender <sender@example.org>"]
    assert mail["commonHeaders"]["subject"] == "Lunch"
    assert built["Records"][0]["ses"]["receipt"]["timestamp"] == "2024-03-01T12:00:01.000Z"


def test_a_built_event_parses_back_to_what_was_given() -> None:
    verdicts = Verdicts(spam="FAIL", virus="PASS", spf=None, dkim="GRAY", dmarc="PASS")
    event = ses_event(
        "msg-1", ["a@example.test"], timestamp_ms=123_456_789, source="s@x.y", verdicts=verdicts
    )

    [message] = parse_ses_event(event)

    assert (message.message_id, message.timestamp_ms, message.source) == (
        "msg-1",
        123_456_789,
        "s@x.y",
    )
    assert message.recipients == ("a@example.test",)
    assert message.verdicts == verdicts
    assert parse_ses_event(ses_event("m", ["a@b.c"], timestamp_ms=0))[0].verdicts == ALL_PASS
