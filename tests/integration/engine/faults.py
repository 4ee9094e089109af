"""AWS faults at the wire, through botocore's event hooks: a chosen call fails as AWS would answer
it, or the process "dies" just before or just after a chosen call.

A kill is `ProcessKilled`, a BaseException: no `except Exception` or `except StoreError` in
popdrop sees it, so none of the process's own recovery runs, exactly as with SIGKILL. Raised in
`before-call` the request never left; raised in `after-call` it took effect at AWS and the answer
was lost. Running the step in a subprocess and killing it would show the same two timelines, a
hundred times slower: the harness needs a thousand scenarios in seconds.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from popdrop.store import Store


class ProcessKilled(BaseException):
    """The process died at this point."""


class Fault(enum.Enum):
    FAIL = "fail"  # AWS answers 500 (retries exhausted): a transient fault
    DENY = "deny"  # AWS refuses the request (AccessDenied): permanent until an operator acts
    CONFLICT = "conflict"  # a transaction is cancelled by a concurrent one
    KILL_BEFORE = "kill-before"  # the process dies before sending the request
    KILL_AFTER = "kill-after"  # the request took effect; the process dies before the answer


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(url: str, service: str, code: str, status: int, **extra: Any) -> AWSResponse:
    """A response with AWS's error shape for `service` (S3's XML, DynamoDB's JSON)."""
    if service == "s3":
        payload = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    else:
        payload = json.dumps({"__type": code, "message": "injected", **extra}).encode()
    return AWSResponse(url, status, {}, _Body(payload))


class FaultInjector:
    """Counts the API calls of the given clients (of one `operation` only, when armed with one);
    `arm` makes call number `at` (from 0, counted from the arming) and the `times - 1` calls after
    it suffer `fault`."""

    def __init__(self, *clients: Any) -> None:
        self.calls = 0
        self.injected = 0
        self._at = -1
        self._times = 0
        self._fault = Fault.FAIL
        self._sends = 1
        self._operation: str | None = None
        self._failing = 0  # attempts (HTTP sends) of the current call still to fail
        for client in clients:
            events = client.meta.events
            service = client.meta.service_model.endpoint_prefix
            events.register_first("before-call.*.*", self._before_call)
            events.register_first("before-send.*.*", functools.partial(self._before_send, service))
            events.register_first("after-call.*.*", self._after_call)

    def arm(
        self,
        fault: Fault,
        at: int = 0,
        times: int = 1,
        sends: int = 1,
        operation: str | None = None,
    ) -> None:
        """`sends`: how many HTTP attempts of each faulted call fail (botocore's retries are
        attempts of one call); `operation` (e.g. "GetObject"): count and fault only its calls."""
        self.calls, self._fault, self._at, self._times, self._sends = 0, fault, at, times, sends
        self._operation = operation

    def disarm(self) -> None:
        self._at, self._failing = -1, 0

    def _hit(self) -> bool:
        return 0 <= self._at <= self.calls - 1 < self._at + self._times

    def _before_call(self, model: Any, **_: Any) -> None:
        if self._operation not in (None, model.name):
            return
        self.calls += 1
        if not self._hit():
            return
        if self._fault is Fault.KILL_BEFORE:
            self.injected += 1
            raise ProcessKilled(model.name)
        if self._fault in (Fault.FAIL, Fault.DENY) or (
            self._fault is Fault.CONFLICT and model.name == "TransactWriteItems"
        ):
            self._failing = self._sends

    def _before_send(self, service: str, request: Any, **_: Any) -> AWSResponse | None:
        if not self._failing:
            return None
        self._failing -= 1
        self.injected += 1
        if self._fault is Fault.CONFLICT:
            return error_response(
                request.url,
                service,
                "TransactionCanceledException",
                400,
                CancellationReasons=[{"Code": "TransactionConflict"}],
            )
        if self._fault is Fault.DENY:
            code = "AccessDenied" if service == "s3" else "AccessDeniedException"
            return error_response(request.url, service, code, 403 if service == "s3" else 400)
        return error_response(request.url, service, "InternalError", 500)

    def _after_call(self, model: Any, **_: Any) -> None:
        if self._operation not in (None, model.name):
            return
        if self._fault is Fault.KILL_AFTER and self._hit():
            self.injected += 1
            raise ProcessKilled(model.name)


def unretried_store(like: Store) -> tuple[Store, FaultInjector]:
    """A store on `like`'s table and bucket whose clients make one attempt per call (botocore's
    retries off, as if their budget were spent), and the injector on those clients."""
    config = Config(retries={"total_max_attempts": 1})
    s3, dynamodb = boto3.client("s3", config=config), boto3.client("dynamodb", config=config)
    store = Store(
        s3=s3,
        dynamodb=dynamodb,
        table=like.table,
        bucket=like.bucket,
        incoming_prefix=like.incoming_prefix,
    )
    return store, FaultInjector(s3, dynamodb)
