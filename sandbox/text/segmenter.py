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


# --- format v2: the domain's words added (docs/format-v2.md) ------------------------------
# v1's segmentation is the contract's (jieba's default dictionary); v2 reads Chinese with a
# tokenizer of its own that also knows the lexicon's words, so 布洛芬 or 华法林 stay whole.

_domain: jieba.Tokenizer | None = None
_domain_words: frozenset[str] = frozenset()


def add_domain_words(words: frozenset[str]) -> None:
    """Teach the v2 tokenizer these words (the lexicon's Chinese phrases)."""
    global _domain, _domain_words
    new = words - _domain_words
    if not new:
        return
    if _domain is None:
        _domain = jieba.Tokenizer()
        _domain.initialize()
    for word in sorted(new):
        if 1 < len(word) <= 8 and "..." not in word and "…" not in word:
            _domain.add_word(word, freq=2000)
    _domain_words = _domain_words | new
    _cut_domain.cache_clear()


@lru_cache(maxsize=8192)
def _cut_domain(text: str) -> tuple[str, ...]:
    if _domain is None:
        return _cut(text)
    return tuple(_domain.lcut(text))


def cut_domain(text: str) -> tuple[str, ...]:
    """The v2 segmentation: jieba with the lexicon's words."""
    return _cut_domain(text)


@lru_cache(maxsize=4096)
def cut_plain(text: str) -> tuple[str, ...]:
    """A phrase split into jieba's default words, HMM off (where fillers may stand)."""
    return tuple(jieba.lcut(text, HMM=False))


@lru_cache(maxsize=4096)
def cut_for_search(text: str) -> tuple[str, ...]:
    """jieba's search segmentation with the default dictionary (the v1 grader's): the words
    of `cut` and, for a long word, the dictionary words inside it (药物相互作用 also gives
    药物, 相互, 作用), so a query of either finds the other (the knowledge base's index)."""
    return tuple(jieba.lcut_for_search(text))
