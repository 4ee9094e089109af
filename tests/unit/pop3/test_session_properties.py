"""Any client input, cut anywhere, with any outcomes reported back: the session never raises, holds
less than a line of input, and sends only well-formed replies (DESIGN invariant 7)."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from popdrop.faces.faults import (
    CleanupPending,
    LeaseLost,
    ObjectNotFound,
    StorageUnavailable,
    StoreError,
)
from popdrop.pop3.actions import (
    Action,
    Authenticate,
    AuthenticateApop,
    Close,
    Commit,
    LoginRefused,
    Release,
    SaslStep,
    Send,
    SendMessage,
    StartTLS,
)
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.session import Session
from popdrop.pop3.states import State
from tests.unit.pop3.transcript import snapshot

COMMANDS = [
    b"CAPA", b"USER alice@example.test", b"PASS secret", b"PASS", b"STAT", b"LIST", b"LIST 1",
    b"LIST 9", b"UIDL", b"UIDL 2", b"RETR 1", b"RETR 0", b"TOP 2 3", b"TOP 1", b"DELE 1",
    b"DELE 2", b"RSET", b"NOOP", b"QUIT", b"STLS", b"XTND", b"",
    b"APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb", b"APOP x", b"UTF8", b"LANG",
    b"LANG en", b"LANG fr", b"LANG *",
    # RFC 5034 AUTH and its continuation lines (a response, "*", "=", not base64).
    b"AUTH", b"AUTH PLAIN", b"AUTH PLAIN AGFsaWNlAHNlY3JldA==", b"AUTH SCRAM-SHA-256", b"AUTH X",
    b"AUTH LOGIN =", b"*", b"=", b"dGVzdA==", b"not base64!",
]  # fmt: skip
# Mostly commands, so that sessions get past login; the rest is noise, stray line ends and
# over-long lines.
LOGIN = b"USER alice@example.test\r\nPASS secret\r\n"
NOISE = st.one_of(
    st.binary(max_size=40),
    st.integers(200, 700).map(lambda n: b"X" * n),
    st.sampled_from([b"\r", b"\n", b"\r\n", b".", b" "]),
)
FRAGMENTS = st.one_of(
    st.sampled_from(COMMANDS).map(lambda line: line + b"\r\n"),
    st.just(LOGIN),
    st.sampled_from(COMMANDS).map(lambda line: line + b"\n"),
    NOISE,
)
# Half the sessions log in first, so that TRANSACTION gets its share of the input.
PREFIXES = st.sampled_from([b"", LOGIN])
MOSTLY = st.sampled_from([True, True, True, False])
CONFIGS = st.builds(
    SessionConfig,
    tls_active=st.booleans(),
    stls_available=st.booleans(),
    plaintext_allowed=MOSTLY,
    bad_command_budget=st.integers(1, 30),
    apop_timestamp=st.none() | st.just("<1896.697170952@dbc.mtview.ca.us>"),
    expire_days=st.none() | st.integers(0, 365),
    login_delay=st.integers(0, 3600),
    sasl_mechanisms=st.lists(
        st.sampled_from(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"]), unique=True
    ).map(tuple),
    max_auth_failures=st.integers(1, 5),
)
# What storage may report: every fault kind the daemon's face raises (popdrop.faces.faults).
FAULTS = st.sampled_from(
    [
        StorageUnavailable("throttled"),
        StoreError("access denied"),
        ObjectNotFound("incoming/x"),
        LeaseLost("alice@example.test"),
        CleanupPending("objects left"),
    ]
)
REFUSALS = st.sampled_from(list(LoginRefused))
AWAITING = (
    State.AUTHENTICATING,
    State.SASL_STEP,
    State.SENDING,
    State.UPDATE,
    State.STARTING_TLS,
)


def assert_well_formed(data: bytes) -> None:
    """A status line (RFC 1939 §3), and for a multi-line reply its lines and the "." line; or a
    SASL continuation, "+ " and base64 on one line (RFC 5034 §4)."""
    if data.startswith(b"+ "):
        assert base64.b64decode(data[2:-2], validate=True) is not None and data.endswith(b"\r\n")
        assert data.count(b"\n") == 1, data
        return
    assert data.startswith((b"+OK", b"-ERR")), data
    status, _, body = data.partition(b"\r\n")
    assert b"\r" not in status and b"\n" not in status, data
    if body:
        *lines, last, after = body.split(b"\r\n")
        assert (last, after) == (b".", b""), data
        for line in lines:
            assert b"\r" not in line and b"\n" not in line and line != b".", data


class Driver:
    """Plays the daemon: runs the session, answers every awaited outcome, checks every action."""

    def __init__(self, session: Session, data: st.DataObject, line_limit: int) -> None:
        self.session = session
        self.data = data
        # The step at which the idle timer fires or the peer vanishes, if ever.
        self.interrupt_at = data.draw(st.none() | st.integers(0, 200))
        self.steps = 0
        self.holding = False  # a maildrop was handed out and neither released nor committed
        self.line_limit = line_limit

    def check(self, actions: list[Action], *, from_command: bool = False) -> None:
        for action in actions:
            match action:
                case Send(payload):
                    assert_well_formed(payload)
                case SendMessage(status=status):
                    assert status.startswith(b"+OK") and status.count(b"\r\n") == 1
                    assert status.endswith(b"\r\n")
                case Commit():
                    assert from_command and actions == [action] and self.holding
                    self.holding = False
                case Release():
                    assert self.holding
                    self.holding = False
                case Close():
                    assert action is actions[-1] and self.session.closed
                case Authenticate() | AuthenticateApop() | SaslStep() | StartTLS():
                    assert action is actions[-1]

    def answer(self) -> None:
        """Report the outcome the session waits for, drawn at random."""
        session = self.session
        match session.state:
            case State.SASL_STEP if self.data.draw(st.booleans()):
                self.check(session.sasl_challenge(self.data.draw(st.binary(max_size=20))))
            case State.AUTHENTICATING | State.SASL_STEP:
                sizes = st.lists(st.integers(0, 500), max_size=4)
                result = self.data.draw(
                    sizes.map(lambda drawn: snapshot(*drawn)) | REFUSALS | FAULTS
                )
                self.holding = not isinstance(result, (LoginRefused, StoreError))
                self.check(session.login_result(result))
            case State.SENDING:
                if self.data.draw(st.booleans()):
                    self.check(session.message_sent())
                else:
                    self.check(session.storage_failed(self.data.draw(FAULTS)))
            case State.UPDATE:
                self.check(session.commit_result(self.data.draw(st.none() | FAULTS)))
            case State.STARTING_TLS:
                self.check(session.tls_started())

    def drain(self) -> None:
        while not self.session.closed:
            self.steps += 1
            if self.steps == self.interrupt_at:
                gone = self.data.draw(st.booleans())
                limit = self.data.draw(st.booleans())
                if gone:
                    self.check(self.session.connection_lost())
                else:
                    self.check(self.session.timed_out(session_limit=limit))
                continue
            actions = self.session.next_actions()
            if actions is not None:
                self.check(actions, from_command=True)
            elif self.session.state in AWAITING:
                self.answer()
            else:
                # Waiting for input: what is held is less than one line (RFC 2449 §4; a SASL
                # response may be longer, where AUTH is on offer).
                assert self.session.buffered < self.line_limit
                return


@settings(max_examples=1000, deadline=None)
@given(config=CONFIGS, fragments=st.lists(FRAGMENTS, max_size=60), data=st.data())
def test_any_input_gets_well_formed_replies_in_bounded_memory_design_invariant_7(
    config: SessionConfig, fragments: list[bytes], data: st.DataObject
) -> None:
    stream = data.draw(PREFIXES) + b"".join(fragments)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    session = Session(config)
    driver = Driver(session, data, config.authorization_max_line)
    driver.check(session.greeting())
    for chunk in [c for c in chunks if c]:
        session.receive_data(chunk)
        assert session.buffered <= len(chunk) + config.authorization_max_line
        driver.drain()
    session.receive_data(b"")
    driver.drain()
    assert session.closed
    assert not driver.holding  # DESIGN invariant 3: every maildrop taken is released or committed
    assert session.next_actions() is None
