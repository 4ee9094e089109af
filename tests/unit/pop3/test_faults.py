"""The one mapping of storage faults to POP3 replies (RFC 3206 §4), complete for the closed set
of faults: every fault kind has a reply at every moment that can meet it, and the rule holds
(transient: [SYS/TEMP], permanent: [SYS/PERM])."""

from __future__ import annotations

import inspect

import pytest

from popdrop.faces import faults as face_faults
from popdrop.faces.faults import (
    CleanupPending,
    DirectoryChanged,
    LeaseLost,
    StorageUnavailable,
    StoreError,
)
from popdrop.pop3 import faults
from popdrop.pop3.actions import LoginRefused
from popdrop.pop3.replies import ResponseCode
from popdrop.pop3.states import State

FAULT_KINDS = [
    kind
    for _, kind in inspect.getmembers(face_faults, inspect.isclass)
    if issubclass(kind, StoreError)
]
MOMENTS = [State.AUTHENTICATING, State.SASL_STEP, State.SENDING, State.LOADING, State.UPDATE]


def test_the_mapping_covers_the_moments_that_meet_storage() -> None:
    assert set(faults.REPLIES) == set(MOMENTS)


@pytest.mark.parametrize("state", MOMENTS, ids=lambda s: s.value)
@pytest.mark.parametrize("kind", FAULT_KINDS, ids=lambda k: k.__name__)
def test_every_fault_kind_has_one_reply_by_rfc3206s_rule(
    state: State, kind: type[StoreError]
) -> None:
    failure = faults.failure(state, kind("detail"))
    if state is State.UPDATE and kind is CleanupPending:
        assert failure is None  # the messages are deleted: QUIT is +OK
        return
    assert failure is not None
    # A lost lease or folders changed meanwhile (met only by a commit) mean: log in again and
    # the commit may succeed.
    transient = issubclass(kind, StorageUnavailable) or (
        kind in (LeaseLost, DirectoryChanged) and state is State.UPDATE
    )
    assert failure.code is (ResponseCode.SYS_TEMP if transient else ResponseCode.SYS_PERM)
    assert failure.close is (state is State.UPDATE)  # QUIT ends the session (RFC 1939 §6)
    assert "detail" not in failure.text  # a fault's own words never reach the wire


@pytest.mark.parametrize("refusal", list(LoginRefused), ids=lambda r: r.name)
def test_a_refused_login_has_its_response_code_rfc2449_s8_rfc3206_s5(
    refusal: LoginRefused,
) -> None:
    failure = faults.failure(State.AUTHENTICATING, refusal, login_delay=900)
    assert failure is not None
    code = {
        LoginRefused.DENIED: ResponseCode.AUTH,
        LoginRefused.IN_USE: ResponseCode.IN_USE,
        LoginRefused.LOGIN_DELAY: ResponseCode.LOGIN_DELAY,
        # docs/pop4.md: a `user+folder` login whose folder is not there, credentials right.
        LoginRefused.NO_SUCH_FOLDER: ResponseCode.SYS_PERM,
    }[refusal]
    assert failure.code is code
    assert failure.counted is (refusal is LoginRefused.DENIED)
    if refusal is LoginRefused.LOGIN_DELAY:
        assert failure.text == "Wait 900 seconds between logins."
