"""Which messages a listing shows: the filters of `GET .../messages`, as one predicate over the
summary headers ingest recorded, the plus-address tag and SES's verdicts. The arrival window
(`since`, `until`) is not here: the store reads only that range of the maildrop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Final, TypeVar

from popdrop.model import VERDICT_KINDS, MessageEntry

T = TypeVar("T")

VERDICT_PATTERN: Final = (
    rf"^(?:(?:{'|'.join(VERDICT_KINDS)}):)?(?:PASS|FAIL|GRAY|PROCESSING_FAILED|DISABLED)$"
)


@dataclass(frozen=True, slots=True)
class MessageFilter:
    sender: str | None = None
    to: str | None = None
    subject: str | None = None
    text: str | None = None  # `q`: in any summary header
    verdict: str | None = None  # VALUE, or kind:VALUE
    tag: str | None = None

    def matches(self, entry: MessageEntry) -> bool:
        summary = entry.summary
        return (
            _contains(summary.sender, self.sender)
            and _contains(summary.to, self.to)
            and _contains(summary.subject, self.subject)
            and (
                self.text is None
                or any(
                    _contains(value, self.text)
                    for value in (
                        summary.sender,
                        summary.to,
                        summary.subject,
                        summary.date,
                        summary.message_id,
                    )
                )
            )
            and (self.tag is None or entry.tag.casefold() == self.tag.casefold())
            and self._verdict_matches(entry)
        )

    def _verdict_matches(self, entry: MessageEntry) -> bool:
        if self.verdict is None:
            return True
        kind, _, value = self.verdict.rpartition(":")
        kinds = (kind,) if kind else VERDICT_KINDS
        return any(getattr(entry.verdicts, name) == value for name in kinds)

    def apply(self, entries: Iterable[MessageEntry]) -> Iterator[MessageEntry]:
        return (entry for entry in entries if self.matches(entry))


def _contains(value: str, wanted: str | None) -> bool:
    """Case-insensitive substring (Unicode case folding)."""
    return wanted is None or wanted.casefold() in value.casefold()


def first(items: Iterable[T], limit: int) -> tuple[list[T], bool]:
    """The first `limit` items, and whether there are more (one more is read to know)."""
    taken = list(islice(items, limit + 1))
    return taken[:limit], len(taken) > limit
