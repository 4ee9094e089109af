"""`popd.read_ahead.ReadAheadWindow`: the read-ahead opens only while RETRs go in order (issue 13,
"Read-ahead that earns its GETs")."""

from __future__ import annotations

import pytest

from popd.read_ahead import ReadAheadWindow


def test_a_first_retr_fetches_nothing_ahead() -> None:
    assert ReadAheadWindow(16).retr(1) == range(2, 2)


def test_the_window_doubles_while_the_client_reads_in_order_up_to_its_limit() -> None:
    window = ReadAheadWindow(16)
    ahead = [window.retr(number) for number in range(1, 8)]
    assert [len(numbers) for numbers in ahead] == [0, 1, 2, 4, 8, 16, 16]
    assert ahead[3] == range(5, 9)  # after RETR 4: messages 5 to 8


@pytest.mark.parametrize("order", [[5, 4, 3, 2, 1], [1, 4, 7, 10], [2, 2, 2]])
def test_reverse_sparse_or_repeated_retrs_fetch_nothing_ahead(order: list[int]) -> None:
    window = ReadAheadWindow(16)
    assert all(len(window.retr(number)) == 0 for number in order)


def test_a_jump_closes_the_window_and_in_order_reading_opens_it_again() -> None:
    window = ReadAheadWindow(16)
    for number in range(1, 6):
        window.retr(number)
    assert window.window == 8
    assert window.retr(20) == range(21, 21)
    assert window.retr(21) == range(22, 23)


def test_a_zero_limit_never_fetches_ahead() -> None:
    window = ReadAheadWindow(0)
    assert all(len(window.retr(number)) == 0 for number in range(1, 5))
