"""Traditional Chinese read as simplified, for format v2 (docs/format-v2.md).

Trainees and customers type in either script (a Hong Kong or Taiwan keyboard, a pasted
leaflet): 懷孕 is 怀孕, 這個藥 is 这个药. A v2 Chinese pack reads every message, and compiles
every phrase, in simplified characters, so one phrase list serves both scripts. Full-width
letters and digits are already folded by NFKC in `normalize`.

The conversion is OpenCC's `t2s` (the `opencc` package): maintained, its dictionaries ship
in the wheel (no download at run time), it converts by phrase where a character alone is
ambiguous (乾燥 -> 干燥 but 乾隆 stays), and it costs a few microseconds a message. It is loaded
on the first Chinese v2 message or phrase. Text that is already simplified comes back as it
was; text with no CJK character is not looked at.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_converter: _Converter | None = None


def _load() -> _Converter:
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
    return _converter


@lru_cache(maxsize=8192)
def simplified(text: str) -> str:
    """`text` with traditional characters written as simplified ones (OpenCC t2s)."""
    if _CJK.search(text) is None:
        return text
    converted = _load().convert(text)
    # OpenCC converts character by character or phrase by phrase and keeps the length; a
    # conversion that did not (none is known) is not used, so positions stay true.
    return converted if len(converted) == len(text) else text
