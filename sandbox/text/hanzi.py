"""Traditional Chinese read as simplified, for format v2 (docs/format-v2.md).

Trainees and customers type in either script (a Hong Kong or Taiwan keyboard, a pasted
leaflet): 懷孕 is 怀孕, 這個藥 is 这个药. A v2 Chinese pack reads every message, and compiles
every phrase, in simplified characters, so one phrase list serves both scripts. Full-width
letters and digits are already folded by NFKC in `normalize`.

The conversion is OpenCC's `t2s` (the `opencc` package): maintained, its dictionaries ship
in the wheel (no download at run time), it converts by phrase where a character alone is
ambiguous (乾燥 -> 干燥 but 乾隆 stays), and it costs a few microseconds a message. It is loaded
on the first Chinese v2 message or phrase. Text that is already simplified comes back as it
was: the characters OpenCC changes on their own are gathered once (about 0.1 s, on the first
message), and a message without any of them is not converted at all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


_CJK_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF))
_converter: _Converter | None = None
#: The characters OpenCC writes otherwise on their own: a message with none of them is
#: already simplified, and one regex search tells (most messages pay nothing more).
_traditional: re.Pattern[str] | None = None


def _opencc() -> _Converter:
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
    return _converter


def _load() -> tuple[_Converter, re.Pattern[str]]:
    global _traditional
    converter = _opencc()
    if _traditional is None:
        chars = [chr(c) for lo, hi in _CJK_RANGES for c in range(lo, hi + 1)]
        # One call for all of them, one per line so no two join into a phrase.
        converted = converter.convert("\n".join(chars)).split("\n")
        changed = [c for c, s in zip(chars, converted, strict=True) if s != c]
        _traditional = re.compile("[" + "".join(re.escape(c) for c in changed) + "]")
    return converter, _traditional


@lru_cache(maxsize=8192)
def simplified(text: str) -> str:
    """`text` with traditional characters written as simplified ones (OpenCC t2s)."""
    converter, traditional = _load()
    if traditional.search(text) is None:
        return text
    return _converted(converter, text)


def simplified_phrase(text: str) -> str:
    """`simplified` for a pack's phrase, without building the message screen: loading a
    pack converts a few thousand short phrases, which costs less than the screen."""
    return _converted(_opencc(), text)


def _converted(converter: _Converter, text: str) -> str:
    converted = converter.convert(text)
    # OpenCC converts character by character or phrase by phrase and keeps the length; a
    # conversion that did not (none is known) is not used, so positions stay true.
    return converted if len(converted) == len(text) else text
