"""Chinese words for the negation rule: jieba 0.42, default dictionary, HMM on."""

from __future__ import annotations

import logging
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=8192)
def _cut(text: str) -> tuple[str, ...]:
    return tuple(jieba.lcut(text))


def cut(text: str) -> tuple[str, ...]:
    """`jieba.lcut(text)`, memoised: the same message is segmented once."""
    return _cut(text)


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first Chinese message."""
    _cut("你好")
