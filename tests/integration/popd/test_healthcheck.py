"""`python -m popd.healthcheck`, the container's HEALTHCHECK and the ECS task's health check."""

from __future__ import annotations

import logging

import pytest

from popd.healthcheck import check
from popdrop.settings import Settings
from tests.integration.popd.conftest import DaemonFactory
from tests.support import free_port, logout_line


def test_with_loopback_trusted_the_check_is_a_silent_probe(
    daemon_factory: DaemonFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """As template.yaml runs it: loopback is a trusted PROXY network, so the check is answered
    like the load balancer's probes, with no session and no log line every 30 seconds."""
    daemon = daemon_factory(proxy_trusted_networks="10.0.0.0/16,127.0.0.1/32")
    settings = Settings(
        pop3_port=daemon.endpoints.pop3_port, proxy_trusted_networks="10.0.0.0/16,127.0.0.1/32"
    )
    caplog.clear()  # the daemon's start-up lines
    with caplog.at_level(logging.DEBUG):
        assert check(settings) is None
        assert check(settings) is None
    assert not [r for r in caplog.records if r.name.startswith("popd")]


def test_without_trust_the_check_reads_the_greeting_and_quits(
    daemon_factory: DaemonFactory, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = daemon_factory()
    with caplog.at_level(logging.INFO):
        assert check(Settings(pop3_port=daemon.endpoints.pop3_port)) is None
        assert logout_line(caplog)["outcome"] == "closed"  # QUIT before a login (RFC 1939 §4)


def test_a_port_nobody_listens_on_is_unhealthy() -> None:
    problem = check(Settings(pop3_port=free_port()))
    assert problem is not None and "refused" in problem.lower()
