"""The conversation's rules that need no store: mentions, emoji, message kinds.

Kept apart from the handlers so that the rules read in one place and are tested
without a server; the stores apply the rules about changing stored messages
(state/changes.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from chat import names

# `@name`: up to a nickname's length of anything but spaces and another `@`.
_MENTION = re.compile(r"(?<![\w@])@([^\s@]{1,32})")
# Punctuation that ends a sentence rather than a name: "thanks @alice!".
_TRAILING = ".,:;!?)]}\"'»”’…"
# What may follow a base emoji in one: modifiers, joiners, selectors, tags, keycaps.
_EMOJI_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")
_KEYCAP_BASES = frozenset("0123456789#*")
MAX_EMOJI_LENGTH = 16
# Unicode's emoji blocks (Mahjong tiles to Symbols and Pictographs Extended-A): their
# newest emoji may be newer than this Python's Unicode data, yet still emoji.
_EMOJI_BLOCKS = range(0x1F000, 0x1FB00)
# Arrows to Miscellaneous Symbols and Arrows: math-symbol emoji such as ◽ live here.
_SYMBOL_BLOCKS = range(0x2190, 0x2C00)
MESSAGE_KINDS = ("action",)


def mention_candidates(text: str) -> set[str]:
    """Every `@word` in `text` as a name key, with trailing punctuation dropped
    ("@alice," mentions alice): compared as nicknames are compared."""
    candidates: set[str] = set()
    for match in _MENTION.finditer(text):
        word = match.group(1)
        for name in (word, word.rstrip(_TRAILING)):
            if name:
                candidates.update(names.name_keys(name))
    return candidates


def mentioned(text: str, members: Iterable[dict[str, Any]]) -> list[str]:
    """Who `text` mentions among `members` ([{sid, username, trip}]): each one's
    trip, or sid without one, in the order of the members list, each once."""
    if "@" not in text:
        return []
    candidates = mention_candidates(text)
    found: list[str] = []
    for member in members:
        if candidates.intersection(names.name_keys(member["username"])):
            who = member.get("trip") or member["sid"]
            if who not in found:
                found.append(who)
    return found


def _pictographic(char: str, category: str) -> bool:
    code = ord(char)
    return (
        category == "So"
        or code in _EMOJI_BLOCKS
        or (category == "Sm" and code in _SYMBOL_BLOCKS)
    )


def is_emoji(text: str) -> bool:
    """One emoji (a pictograph, a symbol asking for emoji presentation with U+FE0F,
    a flag, a keycap or a ZWJ sequence of them), nothing else: reactions are
    pictures, not words."""
    if not 1 <= len(text) <= MAX_EMOJI_LENGTH or text[0] in _EMOJI_JOINERS:
        return False
    pictographs = 0
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        presented = text[index + 1 : index + 2] == "\ufe0f"
        if _pictographic(char, category) or (
            presented and not char.isspace() and not (char.isascii() and char.isalnum())
        ):
            pictographs += 1
        elif char in _EMOJI_JOINERS or category in ("Sk", "Mn", "Me"):
            continue
        elif 0xE0020 <= ord(char) <= 0xE007F:  # tag characters (subdivision flags)
            continue
        elif char in _KEYCAP_BASES and index == 0 and "\u20e3" in text:
            pictographs += 1
        else:
            return False
    return pictographs >= 1 and unicodedata.category(text[0]) not in ("Sk", "Mn", "Me")
