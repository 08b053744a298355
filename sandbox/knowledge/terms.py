"""The words a search index holds for a text, and the snippet a result shows.

One reading serves every language, so a Chinese article that names a medicine in Latin
letters, or an English query with a Chinese word, still matches: runs of Chinese characters
are segmented by jieba with its default dictionary, in search mode (the grader's dictionary,
sandbox/text/segmenter.py); Latin words are lower-cased and brought to their dictionary form
by the lemmatiser the grader uses for format v2 (sandbox/text/lemmas.py: "interactions" and
"interaction", "taking" and "take" are one term). Numbers stay as they are. The database
then indexes these terms, space-separated, with its own full-text search (storage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.text.lemmas import lemma
from sandbox.text.segmenter import cut_for_search

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MAX_QUERY_TERMS = 16

#: English words that say nothing about what an article is about.
STOP_WORDS = frozenset(
    """a an and are as at be by can do for from has have how i if in into is it its may
    of on or our should so than that the their them then there these they this to was
    we were what when which who will with you your not no""".split()
)
#: Chinese function words and particles jieba returns as words of their own.
ZH_STOP = frozenset(
    "的 了 和 与 或 是 在 吗 呢 吧 啊 也 就 都 而 及 等 对 把 被 之 其 请 要 会".split()
)


def _latin(word: str) -> str | None:
    word = word.lower().split("'")[0]
    if word in STOP_WORDS:
        return None
    if word.isdigit():
        return word
    return lemma(word)


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order, repeats kept (the ranking counts them)."""
    out: list[str] = []
    for match in _RUN.finditer(text):
        run = match.group()
        if _CJK.match(run):
            out.extend(w for w in cut_for_search(run) if w not in ZH_STOP)
        else:
            found = _latin(run)
            if found:
                out.append(found)
    return out


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, in order, at most MAX_QUERY_TERMS."""
    seen: dict[str, None] = {}
    for term in terms(query):
        seen.setdefault(term, None)
    return list(seen)[:MAX_QUERY_TERMS]


# --- what a result shows --------------------------------------------------------------------

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_BLOCK = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|\|", re.MULTILINE)
_MD_INLINE = re.compile(r"\*+|`+|(?<!\w)_+|_+(?!\w)")
_SPACE = re.compile(r"\s+")


def plain_text(markdown: str) -> str:
    """The Markdown body as one line of readable text (for snippets)."""
    text = _MD_LINK.sub(r"\1", markdown)
    text = re.sub(r"^\s*[-|: ]+$", " ", text, flags=re.MULTILINE)  # table rules
    text = _MD_BLOCK.sub(" ", text)
    text = _MD_INLINE.sub("", text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Part:
    """A piece of a snippet; `hit` when it is a searched word (shown highlighted)."""

    text: str
    hit: bool


def hits(text: str, wanted: set[str]) -> list[tuple[int, int]]:
    """Where the searched terms stand in `text` (start, end), in order, not overlapping."""
    found: list[tuple[int, int]] = []
    for match in _RUN.finditer(text):
        run, start = match.group(), match.start()
        if _CJK.match(run):
            for term in sorted((t for t in wanted if _CJK.match(t)), key=len, reverse=True):
                at = run.find(term)
                while at >= 0:
                    found.append((start + at, start + at + len(term)))
                    at = run.find(term, at + len(term))
        elif _latin(run) in wanted:
            found.append((start, match.end()))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(body: str, query: list[str], width: int = 160) -> list[Part]:
    """About `width` characters of the article around the most searched words, with the
    searched words marked (half as many for Chinese text, whose characters are words)."""
    text = plain_text(body)
    if len(_CJK.findall(text[:400])) > 100:
        width //= 2
    spans = hits(text, set(query))
    if not spans:
        cut = text[:width]
        return [Part(cut + ("…" if len(text) > width else ""), False)]
    best_start, best_score = spans[0][0], -1
    for i, (start, _) in enumerate(spans):
        inside = [s for s in spans[i:] if s[1] <= start + width]
        score = len({text[s:e].lower() for s, e in inside}) * 10 + len(inside)
        if score > best_score:
            best_start, best_score = start, score
    begin = max(0, best_start - width // 4)
    if begin:
        space = text.rfind(" ", max(0, begin - 12), best_start)
        begin = space + 1 if space >= 0 else begin
    end = min(len(text), begin + width)
    parts: list[Part] = []
    if begin:
        parts.append(Part("…", False))
    at = begin
    for start, stop in spans:
        if start < begin or stop > end:
            continue
        if start > at:
            parts.append(Part(text[at:start], False))
        parts.append(Part(text[start:stop], True))
        at = stop
    if at < end:
        parts.append(Part(text[at:end], False))
    if end < len(text):
        parts.append(Part("…", False))
    return parts


def marked(parts: list[Part], left: str = "**", right: str = "**") -> str:
    """A snippet as text, the searched words between `left` and `right`."""
    return "".join(f"{left}{p.text}{right}" if p.hit else p.text for p in parts)
