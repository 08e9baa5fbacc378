"""Nicknames: what counts as one, and when two of them are the same name to a reader.

A nickname is NFKC-normalised, stripped of invisible characters (zero-width joiners,
fillers that render as blanks, bidi controls, variation selectors), and must keep
at least one visible character. Two nicknames are the *same* when a reader could
not tell them apart: `name_keys` gives the keys a name claims, and names collide
when they share one. The keys follow Unicode's confusable skeleton (UTS #39),
with the confusables data of the `confusable-homoglyphs` package (pinned), taken
of the name case-folded ("Alice" = "alice"), as written, and upper-cased, so that
letters confusable in only one case collide too ("Ilya" = "llya", "M0D" = "mod").
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties), plus characters that
# render as blank space yet are letters (Hangul fillers, the braille blank).
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_BIDI_MARKS = "\u200e\u200f"


def visible(text: str) -> bool:
    """True when `text` shows at least one character (not only blanks)."""
    if INVISIBLE.search(text) is None:  # nearly every message: no regex rewrite
        return bool(text) and not text.isspace()
    return any(not c.isspace() for c in INVISIBLE.sub("", text))


def clean_nickname(raw: str) -> str:
    """The nickname as stored and shown: NFKC, no invisible characters, trimmed."""
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", raw)).strip()


@functools.cache
def _prototypes() -> dict[str, str]:
    """Every confusable character -> one representative of its confusable class
    (a character), or the sequence it is confusable with (e.g. "m" -> "rn")."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    data: dict[str, list[dict[str, str]]] = json.loads(raw.read_text("utf-8"))
    parent: dict[str, str] = {}

    def find(char: str) -> str:
        while parent.get(char, char) != char:
            char = parent[char]
        return char

    sequences: dict[str, str] = {}
    for key, entries in data.items():
        source = key.strip(_BIDI_MARKS)
        if len(source) != 1:
            continue
        for entry in entries:
            target = unicodedata.normalize("NFD", entry["c"].strip(_BIDI_MARKS))
            if len(target) == 1:
                first, second = find(source), find(target)
                if first != second:
                    low, high = sorted((first, second), key=_representative_order)
                    parent[high] = low
            elif len(entries) == 1:
                sequences[source] = target
    mapping = {char: find(char) for char in parent}
    mapping.update(sequences)
    return {char: target for char, target in mapping.items() if char != target}


def load_tables() -> None:
    """Build the confusables table now (about 70 ms, and 0.6 MiB kept) rather than
    in the first join after start, which would wait for it."""
    _prototypes()


def _representative_order(char: str) -> tuple[bool, int]:
    return (not char.isascii(), ord(char))


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, each character replaced by its prototype, NFD."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(char, char) for char in decomposed)
    return unicodedata.normalize("NFD", mapped)


@functools.lru_cache(maxsize=8192)
def name_keys(name: str) -> tuple[str, ...]:
    """The keys a nickname claims in a room; two names collide if they share one.

    Cached: every mention compares against every member's name."""
    cleaned = clean_nickname(name)
    keys = (
        skeleton(cleaned.casefold()),
        skeleton(cleaned).casefold(),
        skeleton(cleaned.upper()).casefold(),
    )
    return tuple(dict.fromkeys(keys))


def letters_and_digits(key: str) -> str:
    """A key without punctuation and spaces: "S.y.s.t.e.m" reads as "system"."""
    return "".join(char for char in key if char.isalnum())
