"""Why a matcher matched a message or not: every occurrence of its phrases, and its fate.

The same rules as `Matcher.confirm`, told rather than decided, so a reviewer can see the
phrase (and the concept it came from), the negation that cancelled it and its reach, or the
speech act that did not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.text.matcher import TOLD_ACTS, Matcher, Phrase, Span, Text


@dataclass(frozen=True)
class Finding:
    """One occurrence of one phrase of a matcher in a message."""

    group: str  # "any", "all 1", "all 2", ..., or "not"
    phrase: str  # the phrase as the pack (or the lexicon) wrote it
    concept: str | None  # the concepts it came through, "~a > ~b", if any
    found: str  # the text it matched (lemmas for v2 English)
    counts: bool
    why: str  # one line: "counts", "negated by 'not'", "in a question", ...

    def to_json(self) -> dict[str, object]:
        return {
            "group": self.group,
            "phrase": self.phrase,
            "concept": self.concept,
            "found": self.found,
            "counts": self.counts,
            "why": self.why,
        }


def explain(
    matcher: Matcher,
    text: Text,
    negation: bool = False,
    act: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> tuple[bool, list[Finding]]:
    """Whether the matcher matches the message, and every occurrence that decided it."""
    findings: list[Finding] = []
    own: list[Span] = [span for p in matcher.positives for span in text.occurrences(p)]
    origins = origins or {}

    def look(group: str, phrases: tuple[Phrase, ...], blocking: bool = False) -> bool:
        holds = False
        for phrase in phrases:
            for start, end in text.occurrences(phrase):
                found = text.text[start:end]
                concept = origins.get(phrase.source)
                if blocking:
                    findings.append(
                        Finding(
                            group,
                            phrase.source,
                            concept,
                            found,
                            False,
                            "a 'not' phrase: blocks the match",
                        )
                    )
                    continue
                if act is not None and not text.act_fits(start, act):
                    why = (
                        "in a statement: an inquiry must ask"
                        if act == "ask"
                        else "in a question: a disclosure must tell"
                    )
                    findings.append(Finding(group, phrase.source, concept, found, False, why))
                    continue
                told = act in TOLD_ACTS  # relayed words count for these acts
                if negation and text.may_negate() and text.negated(start, own, told):
                    findings.append(
                        Finding(
                            group,
                            phrase.source,
                            concept,
                            found,
                            False,
                            _negation_reason(text, start, own),
                        )
                    )
                    continue
                findings.append(Finding(group, phrase.source, concept, found, True, "counts"))
                holds = True
        return holds

    blocked = look("not", matcher.none, blocking=True)
    any_holds = look("any", matcher.any) if matcher.any else True
    all_hold = [look(f"all {i + 1}", group) for i, group in enumerate(matcher.all)]
    matched = (
        (bool(matcher.any) or bool(matcher.all)) and not blocked and any_holds and all(all_hold)
    )
    return matched, findings


def _negation_reason(text: Text, start: int, own: list[Span]) -> str:
    negation_at = getattr(text, "negation_at", None)
    if negation_at is None:
        words = [w.text for _, w in text.words_before(start)]
        return f"negated: a negation word among the 3 words before ({' '.join(reversed(words))})"
    word = negation_at(start, own)
    if word is None:  # pragma: no cover - negated() said it was
        return "negated"
    reach = text.text[word.start : start].strip()
    return f"negated by '{word.text}' (its reach: '{reach} …')"
