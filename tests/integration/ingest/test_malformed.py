"""Issue 6, "Malformed mail" and "Canonical form": nothing crashes ingest; every message is stored
or kept out with a clear logged reason; a non-canonical object is rewritten once, a canonical one
never."""

from __future__ import annotations

import logging

import pytest

from popdrop.canonical import to_canonical
from popdrop.events import ses_event
from popdrop.ingest import HEAD_READ, MAX_STORED_SIZE, IngestResult, ingest_event
from popdrop.store import Store
from tests.conftest import AwsCall
from tests.support import s3_event, shown, stored_object

ALICE = "alice@example.test"


@pytest.fixture(autouse=True)
def alice(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")


def send(store: Store, data: bytes) -> IngestResult:
    store.put_incoming("m1", data)
    [result] = ingest_event(store, ses_event("m1", [ALICE], timestamp_ms=1))
    return result


def test_a_message_without_a_header_body_separator_is_delivered_all_header(store: Store) -> None:
    """RFC 5322 §3.5: the body is optional; TOP then sends the whole message."""
    data = b"Subject: no body\r\nX-Trace: 1\r\n"

    assert send(store, data).delivered == (ALICE,)
    [entry] = store.list_messages(ALICE)
    assert entry.header_size == entry.size == len(data)


def test_invalid_encoded_words_and_raw_8bit_headers_are_delivered_unchanged(store: Store) -> None:
    data = b"Subject: =?utf-8?b?!!!not-base64?= \xff\xfe caf\xc3\xa9\r\nFrom: \x80\r\n\r\nbody\r\n"

    assert send(store, data).delivered == (ALICE,)
    [entry] = shown(store, ALICE)
    assert stored_object(store, entry.object_key) == data
    assert "caf\u00e9" in entry.summary.subject


def test_bare_lf_is_rewritten_once_into_crlf_and_sized_as_rewritten(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    data = b"Subject: unix\n\nline one\nline two"

    result = send(store, data)

    # The first ranged read held the whole object: it is rewritten without reading it again.
    assert [call.operation for call in aws_calls].count("GetObject") == 1

    [entry] = store.list_messages(ALICE)
    stored = stored_object(store, entry.object_key)
    assert result.delivered == (ALICE,)
    assert stored == to_canonical(data) == b"Subject: unix\r\n\r\nline one\r\nline two\r\n"
    assert (entry.size, entry.header_size) == (len(stored), len(b"Subject: unix\r\n\r\n"))


def test_a_canonical_object_is_not_rewritten(store: Store, aws_calls: list[AwsCall]) -> None:
    send(store, b"Subject: ok\r\n\r\nbody\r\n")

    assert "PutObject" not in [call.operation for call in aws_calls[1:]]  # [0]: the test's put


def test_an_s3_written_object_missing_its_final_crlf_beyond_the_first_read_is_fixed(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    """Not from SES: the tail is checked with one two-octet suffix GET."""
    data = b"To: alice@example.test\r\n\r\n" + b"line\r\n" * (HEAD_READ // 6 + 1) + b"no end"
    store.put_incoming("m1", data)
    aws_calls.clear()

    [result] = ingest_event(store, s3_event(store.bucket, "incoming/m1", len(data), timestamp_ms=1))

    assert result.delivered == (ALICE,)
    assert ("GetObject", "bytes=-2") in [(c.operation, c.headers.get("Range")) for c in aws_calls]
    assert stored_object(store, "incoming/m1") == data + b"\r\n"
    assert store.list_messages(ALICE)[0].size == len(data) + 2


def test_a_message_over_the_ses_size_limit_is_quarantined_with_the_reason(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """SES refuses more than 40 MiB, and adds only its trace headers after that: only another
    writer can put an object over MAX_STORED_SIZE."""
    caplog.set_level(logging.INFO, logger="popdrop.ingest")
    data = b"Subject: huge\r\n\r\n" + b"x" * (MAX_STORED_SIZE - 17) + b"\r\n"

    result = send(store, data)

    assert result.quarantined == (ALICE,)
    [held] = store.list_quarantined(ALICE)
    assert held.reason == f"too large: {len(data)} octets"
    [line] = [r.fields for r in caplog.records if r.getMessage() == "ingest.message"]
    assert line["reasons"] == {ALICE: held.reason}


def test_an_empty_object_is_delivered_as_zero_octets(store: Store) -> None:
    assert send(store, b"").delivered == (ALICE,)
    assert store.list_messages(ALICE)[0].size == 0
