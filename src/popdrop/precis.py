"""The one form of text that names or opens a mailbox (RFC 8264 PRECIS): Unicode NFC, no control
or invisible characters, and, for an address's local part, letters of one script (UTS 39 §5.2).

Pure functions over `str`; `popdrop.model` applies them to addresses and passwords, so every entry
point (the CLI, the API, POP3 logins, ingest's recipients) shares them.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Unicode general categories refused anywhere: controls (Cc), format characters such as the
# zero-width space, soft hyphen, bidi overrides and tags (Cf), surrogates (Cs), unassigned code
# points (Cn), and line and paragraph separators (Zl, Zp). RFC 8264 §9 disallows these in both
# string classes; none can be seen, so none can be told apart when typed or read.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
# UTS 39 §5.2 "Highly Restrictive": one script, or Latin with the scripts of one East Asian
# writing system (Japanese, Chinese with Bopomofo, Korean).
_ALLOWED_MIXES: Final = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Character-name prefixes that are not a script: the width or style forms of another script's
# letters (FULLWIDTH LATIN ..., a script of its own here, so never mixed with plain Latin).
_NAME_ALIASES: Final = {"CJK": "HAN"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def invisible(text: str) -> str | None:
    """The first control or invisible character in `text`, as U+XXXX, or None."""
    for character in text:
        if unicodedata.category(character) in _REFUSED_CATEGORIES:
            return f"U+{ord(character):04X}"
    return None


def spaces_to_ascii(text: str) -> str:
    """RFC 8265 §4.2.1: every non-ASCII space (Zs) becomes U+0020."""
    return "".join(" " if unicodedata.category(c) == "Zs" else c for c in text)


def scripts(text: str) -> frozenset[str]:
    """The scripts of the letters in `text`, read from the first word of each letter's Unicode
    name (LATIN, CYRILLIC, GREEK, HAN, ...); digits, punctuation and marks belong to none."""
    found = set()
    for character in text:
        if unicodedata.category(character) not in ("Lu", "Ll", "Lt", "Lo"):
            continue
        word = unicodedata.name(character, "UNKNOWN").split(" ", 1)[0].split("-", 1)[0]
        found.add(_NAME_ALIASES.get(word, word))
    return frozenset(found)


def mixed_script(text: str) -> bool:
    """True when the letters of `text` mix scripts beyond UTS 39's "highly restrictive" level:
    the mark of a look-alike (a Cyrillic "a", U+0430, among Latin letters)."""
    found = scripts(text)
    return len(found) > 1 and not any(found <= allowed for allowed in _ALLOWED_MIXES)
