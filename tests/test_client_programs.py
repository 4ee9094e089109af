"""Issue 15: a real client missing from the machine fails the run, naming the command that
installs it; skipping happens only when asked for, and never in CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import ALLOW_MISSING_CLIENTS, INSTALL_COMMANDS, client_program

TESTS = Path(__file__).parent


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory
    monkeypatch.delenv(ALLOW_MISSING_CLIENTS, raising=False)
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize("name", ["curl", "fetchmail", "mpop"])
@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_client_fails_naming_its_install_command(name: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=re.escape(f"apt-get install {name}")):
        client_program(name)


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_client_is_skipped_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_MISSING_CLIENTS, "1")
    with pytest.raises(pytest.skip.Exception, match="mpop is not installed"):
        client_program("mpop")


@pytest.mark.usefixtures("nothing_installed")
def test_ci_fails_even_when_skipping_was_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_MISSING_CLIENTS, "1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install mpop"):
        client_program("mpop")


def test_an_installed_client_is_found() -> None:
    assert Path(client_program("curl")).name == "curl"


def test_no_test_decides_for_itself_to_skip_a_missing_program() -> None:
    """Every client program goes through `client_program`: no `skipif(shutil.which(...))` and
    no bare program name that would fail without the install command."""
    for path in TESTS.rglob("*.py"):
        if path == Path(__file__):
            continue
        text = path.read_text()
        assert "skipif" not in text, path
        for name in INSTALL_COMMANDS:
            assert f'["{name}"' not in text and f'\n            "{name}",' not in text, path
