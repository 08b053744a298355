"""Review flags: the verdicts the grader is unsure of, from deterministic signals.

A flag never changes a verdict or the score. It says which criterion a person should look
at, why (a reason code of `REASONS`), which message made the grader unsure (or None) and one
line for the reviewer. The grade carries `needs_review` when a critical verdict is flagged.

The signals read what the grader read (each graded message as the matcher saw it) and the
conversation the grader replayed; they are the matcher's own rules told rather than decided
(`sandbox.text.explain`), so a flag names exactly what the grader weighed and set aside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sandbox.engine.conversation import Conversation
from sandbox.scenarios.models import CompiledScenario, Criterion
from sandbox.text.explain import Finding, explain
from sandbox.text.matcher import Matcher, Text

#: Every reason a verdict is flagged, with what it means (for docs and the review queue).
REASONS: dict[str, str] = {
    "negated_mention": (
        "a requirement missed because a mention was read as negated, or a rule kept "
        "because a negation far from (or after) the words cancelled them"
    ),
    "wrong_speech_act": "an inquiry missed, but a message said its words in a statement",
    "partial_pattern": (
        "a rule kept, but a message held part of its pattern (some of its word groups, not all)"
    ),
    "blocked_by_not": "missed or clear only because one of the rule's 'not' phrases appeared",
    "out_of_scope": (
        "missed or clear, but a message outside the rule's window (within_first, "
        "within_last) says it"
    ),
    "topic_reference": (
        "met or violated only through a reference to the topic ('it', 'this medicine'), "
        "which the grader does not resolve"
    ),
    "content_despite_critical": (
        "an outcome met although a critical requirement was missed or a critical rule "
        "broken: the persona may have been too easy to please"
    ),
    "cut_short": "an outcome judged on a conversation that ran out of time or was left",
}

#: Codes whose flag is raised on a verdict that says "not said" (missed, clear).
_ABSENT = ("missed", "clear")
_PRESENT = ("met", "violated")
_TOPIC = "~topic-reference"


@dataclass(frozen=True)
class Flag:
    """One flagged verdict: the reason code, the message (transcript index) and a note."""

    reason: str
    message: int | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "note": self.note}


class Seen(Protocol):
    """A graded trainee message as the grader read it."""

    @property
    def index(self) -> int: ...

    @property
    def view(self) -> Text: ...


def review_flags(
    compiled: CompiledScenario,
    graded: Sequence[Seen],
    statuses: Sequence[str],
    scopes: Sequence[range],
    conversation: Conversation,
) -> list[Flag | None]:
    """For each criterion of `compiled` (in order), its flag or None.

    `statuses` are the grader's verdicts and `scopes` the positions among `graded` that
    each criterion looks at (`grading._scope`), both in the criteria's order.
    """
    failed = [
        c.id
        for (c, _), status in zip(compiled.criteria, statuses, strict=True)
        if c.critical and c.kind != "outcome" and status in ("missed", "violated")
    ]
    flags: list[Flag | None] = []
    # Which criteria each message's literals admit: the scenario's screen, as the grader
    # used it (`CompiledScenario.screen`, `Matcher.admits`).
    admitted = [compiled.screen(message.view.present()).criteria for message in graded]
    topical = _topical(compiled)
    for i, ((criterion, matcher), status, scope) in enumerate(
        zip(compiled.criteria, statuses, scopes, strict=True)
    ):
        flag: Flag | None = None
        if criterion.kind == "outcome":
            flag = _outcome_flag(criterion, status, conversation, failed)
        elif matcher is not None and status != "not_applicable":
            if status in _PRESENT and not topical[i]:
                flag = None  # a match by the rule's own words: nothing to be unsure of
            else:
                admits = [i in criteria for criteria in admitted]
                flag = _matcher_flag(compiled, criterion, matcher, status, graded, scope, admits)
        flags.append(flag)
    return flags


#: For each compiled scenario, whether each criterion's phrases include one that came
#: through a topic reference (`~topic`).
_TOPICAL: WeakKeyDictionary[CompiledScenario, tuple[bool, ...]] = WeakKeyDictionary()


def _topical(compiled: CompiledScenario) -> tuple[bool, ...]:
    topical = _TOPICAL.get(compiled)
    if topical is None:
        origins = compiled.origins
        topical = _TOPICAL[compiled] = tuple(
            matcher is not None
            and any(_TOPIC in origins.get(p.source, "") for p in matcher.positives)
            for _, matcher in compiled.criteria
        )
    return topical


def _matcher_flag(
    compiled: CompiledScenario,
    criterion: Criterion,
    matcher: Matcher,
    status: str,
    graded: Sequence[Seen],
    scope: range,
    admits: Sequence[bool],
) -> Flag | None:
    """The flag of a criterion with `match` whose verdict rests on a topic reference or says
    "not said"; `admits` tells, for each graded message, whether the rule's literal test
    passes (`Matcher.admits`)."""
    origins = compiled.origins
    # Only a message that passes the rule's literal test (every group's words present) can
    # be a near miss; a forbidden pattern of several groups is worth a look with any of them.
    partial = criterion.kind == "forbidden" and len(_groups(matcher)) > 1
    literals = matcher.literals
    act = compiled.act(criterion)
    candidates: list[Flag] = []
    halves: dict[int, set[str]] = {}  # position: the groups a forbidden pattern has there
    for position, message in enumerate(graded):
        view = message.view
        admitted = admits[position]
        if not admitted and (not partial or view.present().isdisjoint(literals)):
            continue  # not the rule's words: nothing to be unsure of
        inside = position in scope
        if status not in _PRESENT and not inside:
            # Said outside the rule's window: the grader's own test tells it, no need to
            # explain every word.
            if admitted and matcher.confirm(view, criterion.negation_aware, act):
                candidates.append(
                    Flag("out_of_scope", message.index, "said outside the rule's window")
                )
            continue
        if status not in _PRESENT and not partial and _plain(matcher, view, act):
            continue  # no negation, no 'not' phrase, no question to misread: no near miss
        if (
            partial
            and status not in _PRESENT
            and not admitted
            and not (criterion.negation_aware and view.may_negate())
        ):
            # Part of a forbidden pattern, with nothing to cancel it: what `explain` would
            # say is only which groups occur (a 'not' phrase keeps the message out of halves).
            if not any(view.occurrences(p) for p in matcher.none):
                halves[position] = _occurring_groups(matcher, view)
            continue
        matched, findings = explain(matcher, view, criterion.negation_aware, act, origins)
        if status in _PRESENT:
            if inside and matched:
                referred = _only_by_reference(findings)
                if referred is not None:
                    return Flag(
                        "topic_reference",
                        message.index,
                        f"only '{referred.found}' names what the message is about",
                    )
                return None  # a plain match decides it
            continue
        # A verdict of "not said": is there a near miss?
        if not inside:
            if matched:
                candidates.append(
                    Flag("out_of_scope", message.index, "said outside the rule's window")
                )
            continue
        if criterion.kind == "forbidden":
            flag = _forbidden_near_miss(matcher, findings, view, message.index, criterion)
            if partial and not any(f.group == "not" for f in findings):
                halves[position] = {f.group for f in findings if f.counts}
        else:
            flag = _required_near_miss(matcher, findings, message.index, act)
        if flag is not None:
            candidates.append(flag)
    split = _split_pattern(matcher, halves, graded)
    if split is not None:
        candidates.append(split)
    if not candidates:
        return None
    return min(candidates, key=lambda f: _ORDER.index(f.reason))


def _plain(matcher: Matcher, view: Text, act: str | None) -> bool:
    """Whether a message can hold no near miss of a rule it did not match: it has no
    negation or reporting frame, none of the rule's 'not' phrases, and the rule needs no
    question (every near-miss reason needs one of them)."""
    if act == "ask" or view.may_negate():
        return False
    return not (matcher.none and view.has_any(matcher.none_literals))


def _split_pattern(
    matcher: Matcher, halves: dict[int, set[str]], graded: Sequence[Seen]
) -> Flag | None:
    """A forbidden pattern split over two messages in a row, each holding part of it
    ("Pseudoephedrine works well." then "You could try it.")."""
    needed = set(_groups(matcher))
    for position, groups in sorted(halves.items()):
        following = halves.get(position + 1)
        if not groups or not following or groups >= needed or following >= needed:
            continue
        if groups | following >= needed:
            first, second = graded[position].index, graded[position + 1].index
            return Flag(
                "partial_pattern",
                first,
                f"the pattern is split: {', '.join(sorted(groups))} in this message, "
                f"{', '.join(sorted(following - groups))} in message {second}",
            )
    return None


_ORDER = (
    "negated_mention",
    "wrong_speech_act",
    "blocked_by_not",
    "partial_pattern",
    "out_of_scope",
)

#: A negation this far from the phrase it cancels is at the edge of its reach: words between
#: them in English, characters in Chinese.
EDGE_WORDS = 4
EDGE_CHARS = 4


def _only_by_reference(findings: list[Finding]) -> Finding | None:
    """A counted topic reference ('it') in a group where nothing else counted."""
    for group in dict.fromkeys(f.group for f in findings if f.group != "not"):
        counted = [f for f in findings if f.group == group and f.counts]
        if counted and all(_TOPIC in (f.concept or "") for f in counted):
            return counted[0]
    return None


def _occurring_groups(matcher: Matcher, view: Text) -> set[str]:
    """The groups of a rule with a phrase in the message (`explain`'s counted groups when
    nothing in the message can cancel one)."""
    groups = [("any", matcher.any)] if matcher.any else []
    groups += [(f"all {i + 1}", group) for i, group in enumerate(matcher.all)]
    return {name for name, phrases in groups if any(view.occurrences(p) for p in phrases)}


def _groups(matcher: Matcher) -> list[str]:
    return (["any"] if matcher.any else []) + [f"all {i + 1}" for i in range(len(matcher.all))]


def _blocked(matcher: Matcher, findings: list[Finding], index: int) -> Flag | None:
    """A message that matched but for one of the rule's 'not' phrases."""
    counted = {f.group for f in findings if f.counts}
    blocked = next((f for f in findings if f.group == "not"), None)
    if blocked is not None and counted >= set(_groups(matcher)):
        return Flag("blocked_by_not", index, f"'{blocked.found}' blocks the match")
    return None


def _required_near_miss(
    matcher: Matcher, findings: list[Finding], index: int, act: str | None
) -> Flag | None:
    """Why a message that did not meet a requirement might have meant it."""
    cancelled = [f for f in findings if f.group != "not" and not f.counts]
    negated = next((f for f in cancelled if f.why.startswith("negated")), None)
    if negated is not None:
        return Flag("negated_mention", index, f"'{negated.found}': {negated.why}")
    if act == "ask":  # an inquiry's words in a statement ("you're not on blood thinners")
        stated = next((f for f in cancelled if f.why.startswith("in a ")), None)
        if stated is not None:
            return Flag("wrong_speech_act", index, f"'{stated.found}': {stated.why}")
    return _blocked(matcher, findings, index)


def _forbidden_near_miss(
    matcher: Matcher, findings: list[Finding], view: Text, index: int, criterion: Criterion
) -> Flag | None:
    """Why a message that broke no rule might have broken it."""
    edge = _edge_negation(matcher, view) if criterion.negation_aware else None
    if edge is not None:
        return Flag("negated_mention", index, edge)
    return _blocked(matcher, findings, index)


def _edge_negation(matcher: Matcher, view: Text) -> str | None:
    """A note when a phrase of the rule is cancelled by a negation far from it (or after it)."""
    negation_at = getattr(view, "negation_at", None)
    if negation_at is None or not view.may_negate():
        return None  # format v1 reads negation three words back: never at a distance
    own = [span for p in matcher.positives for span in view.occurrences(p)]
    for start, end in own:
        word = negation_at(start, own)
        if word is None:
            continue
        found = view.text[start:end]
        if word.start >= start:
            return f"'{found}': negated by '{word.text}' after it"
        between = view.text[word.end : start].strip()
        far = (
            len(between.split()) >= EDGE_WORDS
            if getattr(view, "locale", "en") == "en"
            else len(between) >= EDGE_CHARS
        )
        if far:
            return f"'{found}': negated by '{word.text}' across '{between}'"
    return None


def _outcome_flag(
    criterion: Criterion, status: str, conversation: Conversation, failed: list[str]
) -> Flag | None:
    if status == "not_applicable":
        return None
    if status == "met" and failed:
        return Flag(
            "content_despite_critical",
            None,
            f"met although {', '.join(failed)} failed",
        )
    if conversation.end_reason == "timeout":
        return Flag("cut_short", None, f"the conversation ended by '{conversation.end_reason}'")
    return None


def needs_review(flags: Sequence[Flag | None], critical: Sequence[bool]) -> bool:
    """Whether any critical verdict is flagged."""
    return any(f is not None and c for f, c in zip(flags, critical, strict=True))


def flagged_criteria(record: Mapping[str, Any] | None) -> list[str]:
    """The ids of a stored record's flagged criteria (none in a record stored before flags)."""
    return [
        str(entry["id"])
        for entry in (record or {}).get("criteria", [])
        if isinstance(entry.get("review"), Mapping)
    ]


def record_needs_review(record: Mapping[str, Any] | None) -> bool:
    """Whether a stored record has a flagged critical verdict."""
    return bool((record or {}).get("needs_review"))


__all__ = [
    "REASONS",
    "Flag",
    "flagged_criteria",
    "needs_review",
    "record_needs_review",
    "review_flags",
]
