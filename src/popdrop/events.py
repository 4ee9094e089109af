"""The SES receipt event a Lambda action receives: read-only views, a parser, and a builder.

SES invokes the function with `{"Records": [{"eventSource": "aws:ses", "ses": {"mail": ...,
"receipt": ...}}]}` (SES developer guide, "Lambda action" event; Powertools' `SESEvent` reads the
same shape), and the S3 `ObjectCreated` notification for set-ups without the Lambda action.
`parse_ses_event` validates what ingest uses and nothing else; `ses_event` builds the
whole shape, for the local SMTP stand-in. Pure: no IO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import unquote_plus

from popdrop.model import Verdicts

EVENT_SOURCE: Final = "aws:ses"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
# Where the builder's Lambda action claims to come from; nothing reads it back.
_FUNCTION_ARN: Final = "arn:aws:lambda:us-east-1:000000000000:function:popdrop-ingest"
_HEADERS_IN_COMMON: Final = {  # commonHeaders field -> header; address lists are JSON lists
    "from": "From",
    "to": "To",
    "cc": "Cc",
    "date": "Date",
    "messageId": "Message-ID",
    "subject": "Subject",
}
_LIST_HEADERS: Final = frozenset({"from", "to", "cc"})


T = TypeVar("T")


class InvalidEvent(ValueError):
    """The event is not an SES receipt event ingest can process; the message says where and why."""


ALL_PASS: Final = Verdicts(spam="PASS", virus="PASS", spf="PASS", dkim="PASS", dmarc="PASS")
_VERDICT_FIELDS: Final = {
    "spam": "spamVerdict",
    "virus": "virusVerdict",
    "spf": "spfVerdict",
    "dkim": "dkimVerdict",
    "dmarc": "dmarcVerdict",
}


@dataclass(frozen=True, slots=True)
class SesMessage:
    """One received message as ingest sees it."""

    message_id: str  # also the S3 object key under the S3 action's prefix
    timestamp_ms: int  # mail.timestamp: when SES received the message, epoch milliseconds
    source: str  # the envelope MAIL FROM
    recipients: tuple[str, ...]  # receipt.recipients: the envelope RCPT TOs the rule matched
    verdicts: Verdicts


def parse_ses_event(event: Mapping[str, Any]) -> list[SesMessage]:
    """Read every record of an SES Lambda-action event, or raise InvalidEvent."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event: expected an object, got {type(event).__name__}")
    records = _get(event, "Records", list, "event")
    if not records:
        raise InvalidEvent("event.Records: no records")
    return [_parse_record(record, f"Records[{index}]") for index, record in enumerate(records)]


def _parse_record(record: object, path: str) -> SesMessage:
    if not isinstance(record, Mapping):
        raise InvalidEvent(f"{path}: expected an object, got {type(record).__name__}")
    source = record.get("eventSource")
    if source != EVENT_SOURCE:
        raise InvalidEvent(f"{path}.eventSource: expected {EVENT_SOURCE!r}, got {source!r}")
    ses = _get(record, "ses", dict, path)
    mail = _get(ses, "mail", dict, f"{path}.ses")
    receipt = _get(ses, "receipt", dict, f"{path}.ses")
    mail_path, receipt_path = f"{path}.ses.mail", f"{path}.ses.receipt"

    message_id = _get(mail, "messageId", str, mail_path)
    if not message_id:
        raise InvalidEvent(f"{mail_path}.messageId: empty")
    recipients = _get(receipt, "recipients", list, receipt_path)
    if not recipients:
        raise InvalidEvent(f"{receipt_path}.recipients: no recipients")
    for index, recipient in enumerate(recipients):
        if not isinstance(recipient, str):
            kind = type(recipient).__name__
            raise InvalidEvent(f"{receipt_path}.recipients[{index}]: expected a string, got {kind}")
    return SesMessage(
        message_id=message_id,
        timestamp_ms=_timestamp_ms(_get(mail, "timestamp", str, mail_path), mail_path),
        source=_get(mail, "source", str, mail_path, default=""),
        recipients=tuple(recipients),
        verdicts=Verdicts(
            **{
                name: _verdict(receipt, field, receipt_path)
                for name, field in _VERDICT_FIELDS.items()
            }
        ),
    )


def _get(
    mapping: Mapping[str, Any], key: str, kind: type[T], path: str, default: T | None = None
) -> T:
    value = mapping.get(key, default)
    if value is None:
        raise InvalidEvent(f"{path}.{key}: missing")
    if not isinstance(value, kind):
        expected = "a list" if kind is list else "a string" if kind is str else "an object"
        raise InvalidEvent(f"{path}.{key}: expected {expected}, got {type(value).__name__}")
    return value


def _verdict(receipt: Mapping[str, Any], field: str, path: str) -> str | None:
    verdict = receipt.get(field)
    if verdict is None:
        return None
    if not isinstance(verdict, Mapping):
        raise InvalidEvent(f"{path}.{field}: expected an object, got {type(verdict).__name__}")
    return _get(verdict, "status", str, f"{path}.{field}")


def _timestamp_ms(text: str, path: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"{path}.timestamp: not an ISO-8601 time: {text[:40]!r}") from None
    if moment.tzinfo is None:  # SES always says "Z"; read a bare time as UTC too
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def _iso(timestamp_ms: int) -> str:
    """SES's format: UTC, millisecond precision, "Z" (e.g. 2019-08-05T21:30:02.028Z)."""
    moment = _EPOCH + timestamp_ms * _MILLISECOND
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{timestamp_ms % 1000:03d}Z"


def ses_event(
    message_id: str,
    recipients: Sequence[str],
    *,
    timestamp_ms: int,
    source: str = "",
    headers: Sequence[tuple[str, str]] = (),
    verdicts: Verdicts = ALL_PASS,
    processing_ms: int = 0,
) -> dict[str, Any]:
    """An event shaped like the one an SES receipt rule's Lambda action sends for one message.

    `headers` are the message's headers in order (SES includes them when they total under 10 KB);
    `commonHeaders` is derived from them as SES does. `destination` (SES: the addresses in the
    To and Cc headers) is given the envelope recipients.
    """
    common: dict[str, Any] = {"returnPath": source}
    for field, header in _HEADERS_IN_COMMON.items():
        values = [value for name, value in headers if name.lower() == header.lower()]
        if values:
            common[field] = values if field in _LIST_HEADERS else values[0]
    received = _iso(timestamp_ms)
    return {
        "Records": [
            {
                "eventSource": EVENT_SOURCE,
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": received,
                        "source": source,
                        "messageId": message_id,
                        "destination": list(recipients),
                        "headersTruncated": False,
                        "headers": [{"name": name, "value": value} for name, value in headers],
                        "commonHeaders": common,
                    },
                    "receipt": {
                        "timestamp": _iso(timestamp_ms + processing_ms),
                        "processingTimeMillis": processing_ms,
                        "recipients": list(recipients),
                        **{
                            field: {"status": getattr(verdicts, name)}
                            for name, field in _VERDICT_FIELDS.items()
                            if getattr(verdicts, name) is not None
                        },
                        "action": {
                            "type": "Lambda",
                            "functionArn": _FUNCTION_ARN,
                            "invocationType": "Event",
                        },
                    },
                },
            }
        ]
    }


# S3 `ObjectCreated` notifications (S3 user guide, "Event message structure", version 2.1).
S3_EVENT_SOURCE: Final = "aws:s3"
_EVENTBRIDGE_SOURCE: Final = "aws.s3"


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object an S3 `ObjectCreated` notification reports."""

    bucket: str
    key: str  # URL-decoded: S3 sends keys form-encoded
    size: int
    timestamp_ms: int  # eventTime


def event_source(event: object) -> str:
    """The first record's eventSource ("aws:ses" or "aws:s3"; an EventBridge event from S3 counts
    as "aws:s3"), or raise InvalidEvent."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event: expected an object, got {type(event).__name__}")
    if event.get("source") == _EVENTBRIDGE_SOURCE:
        return S3_EVENT_SOURCE
    records = _get(event, "Records", list, "event")
    if not records or not isinstance(records[0], Mapping):
        raise InvalidEvent("event.Records: no records")
    source = records[0].get("eventSource")
    if source not in {EVENT_SOURCE, S3_EVENT_SOURCE}:
        raise InvalidEvent(f"Records[0].eventSource: expected aws:ses or aws:s3, got {source!r}")
    return str(source)


def parse_s3_event(event: Mapping[str, Any]) -> list[S3Object]:
    """Read every `ObjectCreated` record of an S3 notification, or raise InvalidEvent.

    Other records (S3's `s3:TestEvent` has no Records at all) are refused, not skipped: the
    notification is configured for ObjectCreated only, so anything else is a misconfiguration.
    An EventBridge "Object Created" event (what template.yaml routes) is read the same way.
    """
    if event.get("source") == _EVENTBRIDGE_SOURCE:
        return [_parse_eventbridge(event)]
    records = _get(event, "Records", list, "event")
    if not records:
        raise InvalidEvent("event.Records: no records")
    objects = []
    for index, record in enumerate(records):
        path = f"Records[{index}]"
        if not isinstance(record, Mapping) or record.get("eventSource") != S3_EVENT_SOURCE:
            raise InvalidEvent(f"{path}.eventSource: expected {S3_EVENT_SOURCE!r}")
        name = _get(record, "eventName", str, path)
        if not name.startswith("ObjectCreated:"):
            raise InvalidEvent(f"{path}.eventName: expected ObjectCreated:*, got {name[:40]!r}")
        s3 = _get(record, "s3", dict, path)
        bucket = _get(_get(s3, "bucket", dict, f"{path}.s3"), "name", str, f"{path}.s3.bucket")
        obj = _get(s3, "object", dict, f"{path}.s3")
        key = unquote_plus(_get(obj, "key", str, f"{path}.s3.object"))
        size = obj.get("size", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidEvent(f"{path}.s3.object.size: expected a non-negative integer")
        moment = _timestamp_ms(_get(record, "eventTime", str, path), path)
        objects.append(S3Object(bucket=bucket, key=key, size=size, timestamp_ms=moment))
    return objects


def _parse_eventbridge(event: Mapping[str, Any]) -> S3Object:
    """S3's EventBridge event (S3 user guide, "EventBridge message structure"): the key is given
    as stored, not form-encoded."""
    kind = _get(event, "detail-type", str, "event")
    if kind != "Object Created":
        raise InvalidEvent(f"event.detail-type: expected 'Object Created', got {kind[:40]!r}")
    detail = _get(event, "detail", dict, "event")
    bucket = _get(_get(detail, "bucket", dict, "event.detail"), "name", str, "event.detail.bucket")
    obj = _get(detail, "object", dict, "event.detail")
    size = obj.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidEvent("event.detail.object.size: expected a non-negative integer")
    return S3Object(
        bucket=bucket,
        key=_get(obj, "key", str, "event.detail.object"),
        size=size,
        timestamp_ms=_timestamp_ms(_get(event, "time", str, "event"), "event"),
    )
