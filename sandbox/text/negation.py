"""Negation v2: whether a format v2 reading asserts what a phrase found in it says
(docs/format-v2.md, "Negation").

A negation reaches to the end of its clause (up to `SCOPE` words) rather than three words,
knows negative quantifiers ("nobody", "no clinic", 没人, 谁也不) and refusal frames ("unable
to", 没办法), and treats a reported or rejected claim ("anyone who tells you it's 100%
safe...", 谁说..., a sentence or the next message that calls it untrue) as not made.
Litotes ("not unusual") and comparisons ("no more than") do not negate.

`Negation` holds the rules; `sandbox.text.reading.Reading` holds the words they read.
Every rule here is a rule: nothing is learned, so the same message always reads the same.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from sandbox.text.lemmas import expand
from sandbox.text.matcher import _EN_TOKEN, Span, Text, Word
from sandbox.text.negation_zh import (
    _ANSWERS_NO_ZH,
    _CLAUSE_END_ZH,
    _CONDITION_NEGATIONS_ZH,
    _CONTRAST_ZH,
    _DOUBLE_NEGATION_ZH,
    _GLUED_VERBS_ZH,
    _LONG_NEGATORS_ZH,
    _NOT_NEGATING_ZH,
    _NOT_SUGGESTING_ZH,
    _REJECTED_AFTER_ZH,
    _REJECTED_SENTENCE_ENDS_ZH,
    _REJECTION_CHARS_ZH,
    _REJECTS_BEFORE_ZH,
    _REPORT_FRAMES_ZH,
    _REPORTED_BY_ZH,
    _SCOPE_BREAK_ZH,
    _SENTENCE_END_ZH,
    _SENTENCE_MARKS_ZH,
    _TURNS_ZH,
    _ZH_NEGATION_CHARS,
    NEGATORS_ZH,
    _a_not_a_zh,
    _unreal_spans_zh,
)

#: How many words after a negation it can still reach, within the clause.
SCOPE = 8
#: How far a negated verb of saying reaches ("I'm not going to tell you the bundle boosts
#: your immune system"), still within the clause.
LONG_SCOPE = 16


# -- English -----------------------------------------------------------------------------

NEGATORS_EN = frozenset(
    "not no never nobody nothing none neither nor without zero unable refuse avoid "
    "nowhere hardly".split()
)
# Two-word negators, read on lemmas.
NEGATOR_PAIRS_EN = frozenset(
    {
        ("no", "one"),
        ("instead", "of"),
        ("rather", "than"),
        ("steer", "clear"),
        ("steer", "away"),
        ("stay", "away"),
        ("far", "from"),
    }
)
# "no"/"not" that do not negate what follows: comparisons and litotes.
_NOT_NEGATING_NEXT_EN = frozenset(
    "more less later longer only just unusual uncommon unheard rare unlikely always "
    # "no pls dont stop it": an interjection before a request, not a negation of it
    "please pls plz".split()
)
# ...but "no" is no litotes before these: "there's no 'just this once' with antibiotics".
_NEGATING_AFTER_NO_EN = frozenset("only just always".split())
# A negated feeling ends the negation's reach: "dont worry itll be there wed 100%" does
# not negate the promise after it ("don't worry about the cost" goes on: `_FEELING_GOES_ON_EN`).
_FEELINGS_EN = frozenset("worry panic stress fret".split())
_FEELING_GOES_ON_EN = frozenset("about that if whether".split())
# Words that end a negation's reach before the clause ends.
_SCOPE_BREAK_EN = frozenset(
    "and then so because since while if when unless until which who although though "
    "instead but however otherwise also".split()
)
_CLAUSE_MARKS = frozenset(".,;:!?")
_SENTENCE_MARKS_EN = frozenset(".;!?")
# Frames that report or reject a claim: what follows in the sentence is not asserted.
# Reported or rejected claims: someone else's words ("anyone who tells you...", "some
# clinics promise..."), a warning not to believe them, or a concession that a "but" takes
# back ("normally we'd say wait, but..."). A reporter needs a verb of saying soon after it:
# "anyone who is pregnant" reports nothing.
_REPORTERS_EN = frozenset(
    "anyone anybody whoever someone somebody people they any some other ad ads advert "
    "adverts website websites internet online salon salons influencer influencers "
    "whatever page label leaflet packet packaging marketing manufacturer manufacturers "
    "company companies brand brands article articles forum forums friend friends google "
    "tiktok instagram banner banners poster posters sign listing listings blurb review "
    "reviews place places slip supplier suppliers courier couriers wholesaler wholesalers "
    "tracking clinic clinics".split()
)
_SAYING_EN = frozenset(
    "say tell claim promise guarantee advertise swear insist call offer sell market "
    "blame try assume believe think reckon suggest imply sound sign".split()
)
_DISBELIEF_EN = (
    ("do", "not", "believe"),
    ("do", "not", "trust"),
    ("never", "believe"),
    ("beware",),
    ("myth",),
    ("be", "wary"),
    ("do", "not", "listen"),
)
# "I can't tell you which...", "I can't confirm if...": a question word that completes a
# verb of saying or knowing stays in the negation's reach.
_COMPLEMENT_EN = frozenset("which if whether when who".split())
_KNOWING_EN = frozenset(
    "tell say know confirm promise guarantee sure check predict decide see you me u".split()
)
_DISBELIEF_HEADS_EN = frozenset(frame[0] for frame in _DISBELIEF_EN)
# A negated verb of saying, suggesting or trying reaches its whole clause ("I'm not going to
# tell you...", "don't try to make the last ones stretch by halving a dose").
_LONG_REACH_EN = frozenset("pretend suggest try attempt tempt go".split())
#: Verbs whose "if" opens an embedded question: "ask your doctor if you can skip a dose"
#: asks the doctor; it does not tell anyone to skip.
_ASKING_EN = frozenset(
    "ask check see decide say tell know confirm find wonder advise judge determine clarify "
    "question".split()
)
#: What a subject "whether" clause is said to be: "whether it can be paused is your
#: cardiologist's call", "...is up to your GP". A bare "Whether they take other medicines."
#: (an answer that names what to ask) has none of them.
_DECIDED_EN = _ASKING_EN | frozenset("call decision depend up".split())
_CONCEDERS_EN = frozenset(
    "normally usually typically officially technically strictly generally often".split()
)
_WISHERS_EN = frozenset("love wish".split())
_HEARING_EN = frozenset("read hear see".split())
_TEMPTING_EN = frozenset("tempting tempt".split())
_THINKING_EN = frozenset("think assume believe say".split())
#: A frame starts only at one of these words: a message holding none has no frame.
# "you'll see it advertised as boosting your immune system", "it's sold as a cure": what a
# product is sold as is the seller's claim, not the speaker's.
_SOLD_AS_EN = frozenset("advertise market sell bill label promote tout brand pitch".split())
_FRAME_HEADS_EN = (
    _HEARING_EN
    | _REPORTERS_EN
    | _SOLD_AS_EN
    | _TEMPTING_EN
    | _WISHERS_EN
    | _CONCEDERS_EN
    | _DISBELIEF_HEADS_EN
    | {"before", "you"}
)
# What the customer said, quoted back: "you said...", "you've mentioned...", "you asked if...".
_QUOTING_EN = frozenset("say mention write ask".split())
_QUOTE_ENDS_EN = frozenset("so and but because which".split())


# Words before "you" that make "you mention/say" an instruction or a question, not a quote:
# "please make sure you mention that rash to the doctor", "can you say which one?".
_ASKS_YOU_TO_EN = frozenset("sure ensure please can could would will should do".split())


def _quotes_customer(texts: list[str], j: int) -> bool:
    """Whether "you" at `j` opens the customer's own words quoted back."""
    if j > 0 and texts[j - 1] in _ASKS_YOU_TO_EN:
        return False
    after = texts[j + 1 : j + 3]
    if after[:1] and after[0] in _QUOTING_EN:
        return True
    return len(after) == 2 and after[0] in ("have", "just", "also") and after[1] in _QUOTING_EN


_PAIR_HEADS_EN = frozenset(head for head, _ in NEGATOR_PAIRS_EN)
_SUBJECTS_EN = frozenset(
    "you u i we it they he she there that this these those your my our "
    "his her their the anyone anybody anything any someone something "
    "everything everyone ya yall".split()
)
# v1's words and clause marks, and double quotes (a quoted claim may be rejected).
# A dash between spaces ends a clause too ("... isn't - our doctor needs to see you").
_V2_EN_TOKEN = re.compile(_EN_TOKEN.pattern + r'|"|(?<= )-(?= )')
_ELLIPSIS = re.compile(r"\.{2,}")

# -- Chinese -----------------------------------------------------------------------------

_REJECTED_AFTER_EN = re.compile(
    r"\bbe (not|never) (realistic|true|possible|guarantee|real|the case|how it work)\b"
    r"|\bbe (unrealistic|impossible|untrue|a myth|nonsense|rubbish|a lie)\b"
    r"|\bcan not be (guarantee|promise)\b|\bnobody can (guarantee|promise)\b"
    # "a written guarantee isn't something any honest surgeon could give you"
    # (only of a promise: "it isn't something we can give while you're pregnant" refuses)
    r"|(?:(?<=guarantee )|(?<=promise )|(?<=guarantee in writing )|(?<=promise in writing ))"
    r"be not something [^.,;:!?]{0,40}"
    r"\b(give|promise|guarantee|offer|say|put in writing)\b"
    # "skipping the warfarin isn't the answer either", "a smaller dose isn't something
    # we'd offer either": an option named to be turned down
    r"|\bbe not (the answer|an answer|an option|the way|a way|the solution)\b"
    r"|\bbe not something (i|we) [^.,;:!?]{0,12}\b(offer|do|recommend|suggest|allow)\b"
    # "fridge-and-use is one I'd steer you away from"
    r"|\bbe (?:one|something|a thing) (?:i|we) (?:would |will )?(?:steer|keep) (?:you )?"
    r"(?:away|clear)\b"
)
#: "even (just) a low dose ...": the thing conceded, right before the occurrence.
_CONCEDED_EN = re.compile(
    r"\beven (?:just |only )?(?:a |an |the |one |two |a couple of )?(?:[a-z]+ )?$"
)
#: What turns a conceded thing down in the rest of its clause.
_TURNED_DOWN_EN = re.compile(
    r"\b(?:not|never|risky|dangerous|unsafe|bleed|bleeding|risk|problem|interact)\b"
)
# A sentence that rejects the one before it: "It's 100% safe, some sites say. That's just
# not true." / "网上说吃了就没事。这个说法不对哈". Read on the lemma text in English. It must
# be short: only openers ("honestly", "but") and closers ("sorry", "though", "for you") may
# stand beside the rejection, so "That's not true for paracetamol" rejects nothing.
_OPENERS_EN = (
    r"(?:(?:but|and|honestly|tbh|sadly|unfortunately|lol|haha|well|so|yeah|look|sorry|ok|okay"
    r"|um|and honestly|to be honest|no|nope|nah|i be afraid)(?: ,)? )*"
)
_CLOSERS_EN = (
    r"(?:(?: ,)? (?:sorry|though|tho|at all|i be afraid|unfortunately|honestly|really|for you"
    r"|in your case|for everyone|for anyone|either|to be honest|tbh|haha|lol|anyway|sadly"
    r"|i be sorry|i be sure|i promise|about that|about it|and it be risky|and it be not safe"
    r"|and nobody honest can|and no one honest can|and nobody can|and no one can"
    r"|in writing or otherwise|in writing|or otherwise))*"
)
_REJECTS_BEFORE_EN = re.compile(
    r"(?:^|(?<=[.!?;] )|(?<=, )(?=(?:i be afraid (?:, )?)?(?:that|which|this) ))"
    + _OPENERS_EN
    + r"(?:"
    r"(?:that|this|which|it|they|those|such claim|that claim|this claim|those claim)"
    r"(?: be| would be| be just| be simply| be really)? (?:not|never)"
    r" (?:true|right|correct|accurate|realistic|the case|how it work|a promise (?:i|we) can make)"
    r"|(?:that|this|it|they|those) be (?:just |simply |totally |completely |really )?"
    r"(?:a myth|nonsense|rubbish|mislead|wrong|false|untrue|unrealistic|marketing"
    r"|an exaggeration|a lie|a scam|not true)"
    r"|(?:not|never) true|simply not true|not the case"
    r"|(?:i|we) (?:can|could) not (?:promise|guarantee|say|tell you|claim|confirm) (?:that|this)"
    # an elliptical refusal after a claim put as a question: "Will I promise...? I can't"
    r"|(?:i|we) (?:can|could|will|would) not"
    r"|(?:that|this|it) be not something (?:i|we|anyone|anybody) (?:can|could|will|would) "
    r"(?:give|offer|promise|do|say|guarantee)(?: you)?"
    r"|(?:i|we) (?:would|will) (?:not|never) (?:say|promise|claim) (?:that|this)"
    r"|(?:i|we) (?:be not go to|would not|will not|do not) (?:assume|take for granted) (?:that|it)"
    r"|(?:i|we) (?:do|would) not (?:believe|buy) (?:that|it|this|them)"
    r"|do not (?:believe|trust) (?:that|it|this|them|everything you read)"
    # "I'd take that with a pinch of salt", "that isn't what our doctors go by"
    r"|(?:i would |i be |you can |you should |i would honestly )?take (?:that|it|this|those|them)"
    r" with a (?:pinch|grain) of salt"
    r"|(?:that|this|it) be not (?:what|how) (?:we|i|our \w+|the \w+|my \w+)"
    r" (?:go by|work|do thing|recommend|advise|follow)"
    r"|(?:no one|nobody|no clinic|no pharmacy) can (?:honestly )?"
    r"(?:promise|guarantee) (?:that|this)"
    r")" + _CLOSERS_EN + r" ?(?:[.!?;]|$)"
)
# A bare "no" answering the trainee's own question takes the question's claim back: "Will
# it be there tomorrow? Honestly, no." / "明天能到吗？说实话不能". Only right after a "?", and
# never itself a question ("Any allergies? No?").
_ANSWERS_NO_EN = re.compile(
    r"(?<=\? )" + _OPENERS_EN + r"(?:no|nope|nah|not really|not necessarily|not at all"
    r"|(?:sadly|unfortunately|probably|i be afraid) not)" + _CLOSERS_EN + r" ?(?:[.!;,]|$)"
)
#: A rejection that holds no negation word holds one of these (`Reading.may_negate`).
_REJECTION_WORDS_EN = frozenset(
    "myth nonsense rubbish mislead wrong false untrue unrealistic marketing exaggeration "
    "lie scam salt nope nah".split()
)
# Where a claim's clause ends, for `_rejected_after`: a mark, or a word that starts a new
# clause (in English between spaces).
_CLAUSE_END_EN = re.compile(
    "[,;:.!?]| (?:" + "|".join(sorted(_SCOPE_BREAK_EN, key=lambda w: (-len(w), w))) + ") "
)


# Openings that carry the clause or sentence before on to more things: "I can't book you
# in, and that goes for a lower-dose top-up too", "The same goes for aspirin."
_EXTENDERS_EN = (
    ("and", "that", "go", "for"),
    ("that", "go", "for"),
    ("and", "the", "same", "go", "for"),
    ("the", "same", "go", "for"),
    ("same", "go", "for"),
    ("and", "the", "same", "for"),
    ("the", "same", "for"),
    ("same", "for"),
    ("and", "that", "include"),
    ("that", "include"),
    ("include",),
)


def _extends_before(words: list[Word], k: int) -> bool:
    """Whether the clause starting at word `k` opens with an extender (`_EXTENDERS_EN`)."""
    texts = tuple(w.text for w in words[k : k + 5])
    return any(texts[: len(e)] == e for e in _EXTENDERS_EN)


# A contrast after relayed words takes them back: "...，其实影响不大", "..., but actually".
_CONTRAST_EN = re.compile(
    r"\b(actually|in fact|in reality|overblown|exaggerate|scaremonger|no evidence|not true"
    r"|untrue|a myth|nonsense|rubbish|do not really|do not change)"
)
_SENTENCE_END_EN = re.compile("[" + re.escape("".join(sorted(_SENTENCE_MARKS_EN))) + "]")

# What a rejection after an occurrence says when it only hedges: "but I can't promise
# that", "但我没法打包票".
_HEDGES_AFTER = re.compile(r"打包票|保证|担保|说死|确定|guarantee|promise|confirm|certain|sure")


class Negation:
    """The negation rules of a `Reading`: what they need from it is declared here, and
    their caches are the reading's fields."""

    text: str
    locale: str
    _forms: list[str]
    _plain: str
    _frames: list[int] | None
    _negating: bool | None
    _unreal: list[tuple[int, int, Word]] | None
    _rejections: list[tuple[int, Word]] | None
    _rejected_tail: tuple[int, Word] | None
    _negations: dict[tuple[int, tuple[Span, ...]], Word | None] | None
    _form_frozenset: frozenset[str] | None

    @property
    def _tokens(self) -> list[Word]:
        raise NotImplementedError

    def _form_set(self) -> frozenset[str]:
        """English: the message's lemmas as a set, made once."""
        forms = self._form_frozenset
        if forms is None:
            forms = self._form_frozenset = frozenset(self._forms)
        return forms

    def may_negate(self) -> bool:
        """False when no negation word and no reporting frame occurs in the message."""
        if self._negating is None:
            if self.locale == "en":
                texts = self._form_set()
                self._negating = (
                    not texts.isdisjoint(NEGATORS_EN)
                    or not texts.isdisjoint(_PAIR_HEADS_EN)
                    or bool(self._frame_starts())
                    # "even a low dose would be risky" turns down without a negation word
                    or "even" in texts
                    # an embedded question: "ask your GP whether you can skip a dose"
                    or "whether" in texts
                    or ("if" in texts and not texts.isdisjoint(_ASKING_EN))
                    # a heading: "On the written guarantee: ...", "As for the bundle, ..."
                    or _HEADING_CUE_EN.search(self.text) is not None
                    # a rejection without a negation word ("that's a myth") needs one of these
                    or (
                        not texts.isdisjoint(_REJECTION_WORDS_EN)
                        and bool(self._rejecting_sentences())
                    )
                )
            else:
                self._negating = (
                    _ZH_NEGATION_CHARS.search(self.text) is not None
                    or bool(self._frame_starts())
                    or (
                        _REJECTION_CHARS_ZH.search(self.text) is not None
                        and bool(self._rejecting_sentences())
                    )
                )
        return self._negating

    def _frame_starts(self) -> list[int]:
        """Where a reporting frame starts: word indices (en) or text positions (zh)."""
        if self._frames is None:
            frames: list[int] = []
            if self.locale == "en":
                texts = self._form_set()
                frames = [] if texts.isdisjoint(_FRAME_HEADS_EN) else _en_frames(self._forms)
                if not texts.isdisjoint(_UNREAL_MODALS) and not texts.isdisjoint(
                    ("if", "otherwise")
                ):
                    frames = sorted({*frames, *_counterfactual_frames(self._plain, self._tokens)})
            else:
                text = self.text
                for marker in _REPORT_FRAMES_ZH:
                    k = text.find(marker)
                    while k >= 0:
                        frames.append(k)
                        k = text.find(marker, k + 1)
                frames.extend(m.start() for m in _REPORTED_BY_ZH.finditer(text))
                frames.sort()
            self._frames = frames
        return self._frames

    # -- negation --

    def negated(self, at: int, inside: Sequence[Span], told: bool = False) -> bool:
        """Whether the occurrence at `at` is negated, reported or rejected. For what a
        disclosure must tell (`told`), someone else's words relayed count as said."""
        found = self.negation_at(at, inside)
        if found is None:
            return False
        if told and found.text in ("whether", "if"):
            return False  # an embedded question ends nothing a disclosure tells
        if told and found.start < at and self.locale == "en" and self._yet_after(at):
            # "you won't need his prescription yet": it will be needed, later.
            return False
        if told and found.start > at and _HEDGES_AFTER.search(found.text):
            # "快递公司反馈周四能到，但我没法打包票": a hedge after an estimate or a warning
            # takes back a promise, not what was told.
            return False
        return not (told and self._frames and self._reported_only(at, inside, found))

    def _yet_after(self, at: int) -> bool:
        """Whether "yet" follows the occurrence in its clause (not yet: later)."""
        stop = _CLAUSE_END_EN.search(self.text, at)
        clause = self.text[at : stop.start() if stop is not None else len(self.text)]
        return " yet" in clause

    def _reported_only(self, at: int, inside: Sequence[Span], found: Word) -> bool:
        """Whether only a third party's reporting frame cancels the occurrence, and the
        sentence relays it rather than taking it back ("网上说吃阿司匹林会青得厉害，其实影响不大"
        tells no risk)."""
        reporter = self._reported(self._last_word_before(at))
        # The customer's own words quoted back ("you said...") are still not told.
        if reporter is None or reporter.start != found.start or reporter.text == "you":
            return False
        marks = _SENTENCE_END_EN if self.locale == "en" else _SENTENCE_END_ZH
        stop = marks.search(self.text, at)
        rest = self.text[at : stop.start() if stop is not None else len(self.text)]
        contrast = _CONTRAST_EN if self.locale == "en" else _CONTRAST_ZH
        return contrast.search(rest) is None

    def negation_at(self, at: int, inside: Sequence[Span] = ()) -> Word | None:
        """The word that negates the occurrence at `at`, or None.

        Kept per position and `inside`: the grader, the review flags and their explanation
        ask again about the same occurrences. The answer depends only on the message, except
        when the next message rejects its last sentence (`reject_last_sentence` forgets it).
        """
        key = (at, tuple(inside))
        memo = self._negations
        if memo is None:
            memo = self._negations = {}
        elif key in memo:
            return memo[key]
        found = memo[key] = self._negation_at(at, inside)
        return found

    def _last_word_before(self, at: int) -> int:
        """The index of the last word that starts before `at` (-1 if none)."""
        words = self._tokens
        i = len(words) - 1
        while i >= 0 and words[i].start >= at:
            i -= 1
        return i

    def _negation_at(self, at: int, inside: Sequence[Span]) -> Word | None:
        words = self._tokens
        i = self._last_word_before(at)
        en = self.locale == "en"
        if not en:
            asked = _a_not_a_zh(self.text, at)
            if asked is not None:
                return asked
        breaks = _SCOPE_BREAK_EN if en else _SCOPE_BREAK_ZH
        # A purpose infinitive belongs to the negated act, however long the act: "don't
        # skip, halve or space out your doses to make them last".
        purpose = en and i >= 0 and words[i].text == "to"
        seen = 0
        j = i
        # The part of a segmenter word that the occurrence starts inside counts as a word.
        if j >= 0 and words[j].end > at and not words[j].clause_end:
            part = self.text[words[j].start : at]
            if not en and self._negates_zh(part, words[j].start, inside):
                if not self._negation_negated_zh(words[j].start):
                    return Word(words[j].start, at, part)
                j = -1  # 不是说不会留疤 read as one word: the two negations say it
            j -= 1
        while j >= 0 and seen < LONG_SCOPE:
            w = words[j]
            if w.clause_end:
                if en and w.text in ",.;" and _extends_before(words, j + 1):
                    seen = 0  # "..., and that goes for X": the reach starts again before it
                elif not self._continues_negation(j):
                    break
                j -= 1
                continue
            if (
                w.text in breaks
                and not (
                    en and w.text in _COMPLEMENT_EN and j > 0 and words[j - 1].text in _KNOWING_EN
                )
                and not (en and j > 0 and words[j - 1].clause_end and _extends_before(words, j))
            ):
                # "instead of the ibuprofen" negates; "instead, ..." ends a reach.
                if en and seen < SCOPE and self._negates_en(j):
                    return w
                break
            if any(s <= w.start and w.end <= e for s, e in inside) or (
                not en and self._prefix_inside(w, inside)
            ):
                j -= 1
                seen += 1
                continue
            if (
                en
                and w.text in _FEELINGS_EN
                and (j + 1 == len(words) or words[j + 1].text not in _FEELING_GOES_ON_EN)
            ):
                break
            if en and self._negates_en(j) and (seen < SCOPE or purpose or self._says_after(j)):
                return w
            if not en and self._negates_zh(w.text, w.start, inside):
                if self._negation_negated_zh(w.start):
                    break  # 不是说不会感染, 不能说没有: two negations say it
                if "反而" in self.text[w.end : at]:
                    break  # 痘坑没平反而多出印子 (jieba reads 平反 as one word)
                return w
            if not en and w.text == "就" and self._negated_condition_zh(j, inside):
                break  # 没好就去医院: the negation is the condition's
            j -= 1
            seen += 1
        return (
            self._reported(i)
            or (self._embedded_question_en(i) if en else None)
            or (_topic_heading_en(self.text, at) if en else None)
            or self._quoted_and_rejected(at)
            or self._rejected_after(at, inside)
            or self._rejected_by_next(at)
            or (None if en else self._unreal_zh(at))
        )

    def _rejecting_sentences(self) -> list[tuple[int, Word]]:
        """Each sentence that rejects the one before it: where it starts (after its
        openers) and its rejection (`_REJECTS_BEFORE_EN`, `_REJECTS_BEFORE_ZH`, and a bare
        "no" after a question, `_ANSWERS_NO_EN`, `_ANSWERS_NO_ZH`)."""
        if self._rejections is None:
            en = self.locale == "en"
            found = [
                *(_REJECTS_BEFORE_EN if en else _REJECTS_BEFORE_ZH).finditer(self.text),
                *(_ANSWERS_NO_EN if en else _ANSWERS_NO_ZH).finditer(self.text),
            ]
            self._rejections = sorted(
                (
                    (m.start(), Word(m.start(), m.end(), m.group(0).strip(" .!?;。！？；,，")))
                    for m in found
                    if m.start() > 0
                ),
                key=lambda rejection: rejection[0],
            )
        return self._rejections

    def opening_rejection(self) -> Word | None:
        """A rejection the message opens with ("no, that's not true", "这个说法不对哈"):
        of the sentence before it, which may end the previous message (`link_rejections`)."""
        pattern = _REJECTS_BEFORE_EN if self.locale == "en" else _REJECTS_BEFORE_ZH
        m = pattern.match(self.text)
        if m is None:
            return None
        return Word(m.start(), m.end(), m.group(0).strip(" .!?;。！？；,，"))

    def reject_last_sentence(self, word: Word) -> None:
        """Take back this message's last sentence: the next message opens by rejecting it.
        `word` stands after the end of this text, so a reach measured to it is empty."""
        text = self.text
        marks = _SENTENCE_MARKS_EN if self.locale == "en" else _SENTENCE_MARKS_ZH
        end = len(text)
        while end > 0 and (text[end - 1] in marks or text[end - 1] in " …~"):
            end -= 1
        start = max((k for k in range(end) if text[k] in marks), default=-1) + 1
        self._rejected_tail = (start, Word(len(text), len(text), f"next message: {word.text}"))
        self._negating = True
        self._negations = None  # answers given before the rejection was known

    def _rejected_by_next(self, at: int) -> Word | None:
        """The rejection of the sentence holding `at` by the sentence right after it (in
        this message, or opening the next)."""
        tail = self._rejected_tail
        if tail is not None and at >= tail[0]:
            return tail[1]
        rejections = self._rejecting_sentences()
        if not rejections:
            return None
        text = self.text
        en = self.locale == "en"
        marks = _SENTENCE_MARKS_EN if en else _REJECTED_SENTENCE_ENDS_ZH
        starts = dict(rejections)
        for k in range(at, len(text)):
            if not en and k > at and text[k] in "这那":
                word = starts.get(k)  # the topic before it taken up and rejected
                if word is not None:
                    return word
            # English: a comma too, before "that/which/this" ("..., that's not true")
            if text[k] in marks or (en and text[k] == ","):
                following = k + 1
                while following < len(text) and text[following] in " …~.":
                    following += 1  # past the spaces and the rest of a "……"
                word = starts.get(following)
                if word is not None or text[k] in marks:
                    return word
        return None

    def _unreal_zh(self, at: int) -> Word | None:
        """A Chinese claim the sentence does not make (`_unreal_spans_zh`)."""
        if self._unreal is None:
            self._unreal = _unreal_spans_zh(self.text)
        return next((word for start, end, word in self._unreal if start <= at < end), None)

    def _rejected_after(self, at: int, inside: Sequence[Span]) -> Word | None:
        """A claim its own sentence then calls unreal: "a result exactly like the photo isn't
        realistic", "永久是不可能的", "一模一样这种承诺谁都给不了". Only such verdicts on truth or
        possibility count ("ibuprofen isn't safe" warns; it does not reject)."""
        text = self.text
        # Within the claim's own clause: "swelling takes months to settle, so five weeks is
        # not realistic" rejects five weeks, not the swelling.
        if self.locale == "en":
            clause_end, pattern = _CLAUSE_END_EN, _REJECTED_AFTER_EN
        else:
            clause_end, pattern = _CLAUSE_END_ZH, _REJECTED_AFTER_ZH
        # The clause goes on past the occurrence's own words ("fridge and use is one I'd
        # steer you away from": its "and" ends nothing).
        own_end = max((e for s, e in inside if s <= at < e), default=at)
        stop = clause_end.search(text, own_end)
        end = stop.start() if stop is not None else len(text)
        if self.locale == "en" and _CONCEDED_EN.search(text, max(0, at - 40), at):
            # "even a low dose of ibuprofen isn't safe": what "even" concedes, the rest of
            # its clause turns down.
            turned = _TURNED_DOWN_EN.search(text, at, end)
            if turned is not None and not any(s <= turned.start() < e for s, e in inside):
                return Word(turned.start(), turned.end(), turned.group(0))
        for found in pattern.finditer(text, at, end):
            # The rule's own words in the verdict make it the rule's: "botox is not
            # something we can do while you are pregnant" is a refusal that warns.
            if any(s < found.end() and found.start() < e for s, e in inside):
                continue
            if found.start() > at:
                return Word(found.start(), found.end(), found.group(0))
        return None

    def _quoted_and_rejected(self, at: int) -> Word | None:
        """A claim in quotation marks that the rest of its sentence rejects:
        '"totally safe" is not something I'd say', “应该没事”这种话我不能跟您说."""
        text = self.text
        marks = _SENTENCE_MARKS_EN if self.locale == "en" else _SENTENCE_MARKS_ZH
        begin = max(text.rfind(m, 0, at) for m in marks) + 1
        opened = [k for k in range(begin, at) if text[k] in '"「『']
        if not opened:
            return None
        close = min((k for k in (text.find(q, at) for q in '"」』') if k >= 0), default=-1)
        inside = len([k for k in opened if text[k] == '"']) % 2 == 1 or any(
            text[k] in "「『" for k in opened
        )
        if close < 0 or not inside:
            return None
        for w in self._tokens:
            if w.start <= close:
                continue
            if w.text in marks:
                break
            if self.locale == "en":
                if w.text in NEGATORS_EN:
                    return w
            elif self._negates_zh(w.text, w.start, ()):
                return w
        return None

    def _embedded_question_en(self, i: int) -> Word | None:
        """The "whether" (or "if" after a verb of asking, deciding or saying) that opens
        the clause of the word at `i`: what an embedded question holds is asked of someone,
        not said ("whether it can be paused is your cardiologist's call", "check with your
        GP if you can skip a dose"). What a disclosure or warning tells is unaffected
        (`negated`)."""
        words = self._tokens
        j = i
        while j >= 0 and i - j < LONG_SCOPE and not words[j].clause_end:
            w = words[j].text
            if w in ("whether", "if"):
                before = [v.text for v in words[max(0, j - 5) : j]]
                # Asked of the customer ("can you tell me if you take warfarin?", "let us
                # know whether..."): that is the trainee's own question, read as one.
                if before and before[-1] in ("me", "us"):
                    return None
                if not _ASKING_EN.isdisjoint(before) or (w == "whether" and self._decided_after(j)):
                    return words[j]
            j -= 1
        return None

    def _decided_after(self, j: int) -> bool:
        """Whether the sentence of the "whether" at `j` says who decides or asks it."""
        for w in self._tokens[j + 1 :]:
            if w.text in _SENTENCE_MARKS_EN:
                return False
            if w.text in _DECIDED_EN:
                return True
        return False

    def _says_after(self, j: int) -> bool:
        """A negated verb of saying ("I'm not going to tell you...") reaches its whole clause."""
        return any(
            w.text in _SAYING_EN or w.text in _LONG_REACH_EN for w in self._tokens[j + 1 : j + 5]
        )

    def _continues_negation(self, j: int) -> bool:
        """A clause that opens with "or"/"nor" after a comma goes on with the negation of the
        clause before it: "I won't offer you the earliest slot, or a 'lighter dose' either".
        Not an "or" that opens a consequence with its own subject: "don't take it, or you
        could bleed" warns."""
        words = self._tokens
        if self.locale != "en" or words[j].text != "," or j + 2 >= len(words):
            return False
        if words[j + 1].text in ("or", "nor"):
            return words[j + 2].text not in _SUBJECTS_EN and words[j + 2].text != "else"
        # A list of single items after a negation: "no skipping, halving or spacing them".
        return (
            j >= 2
            and words[j - 2].text in ("no", "not", "never")
            and (words[j + 2].text in ("or", "nor") or words[j + 2].text == ",")
        )

    def _negates_en(self, j: int) -> bool:
        words = self._tokens
        w = words[j].text
        nxt = words[j + 1].text if j + 1 < len(words) else ""
        if (
            w in ("no", "not")
            and nxt in _NOT_NEGATING_NEXT_EN
            and not (w == "no" and nxt in _NEGATING_AFTER_NO_EN)
        ):
            return False
        if w in NEGATORS_EN:
            return True
        if w == "than" and self._rather_before(j):
            return True  # "I'd rather be honest than tell you it'll definitely come"
        return (w, nxt) in NEGATOR_PAIRS_EN

    def _rather_before(self, j: int) -> bool:
        """Whether "rather" comes a few words before "than" at `j` in the same clause: what
        follows "than" is turned down, as after "rather than"."""
        words = self._tokens
        for k in range(j - 1, max(-1, j - 6), -1):
            if words[k].text in _CLAUSE_MARKS:
                return False
            if words[k].text == "rather":
                return True
        return False

    def _prefix_inside(self, w: Word, inside: Sequence[Span]) -> bool:
        """A word that jieba glued to a negation (不能自己) whose negation is the matcher's
        own phrase (不能): the negation is the phrase's, as if the word stood inside it."""
        lead = next((n for n in _LONG_NEGATORS_ZH if w.text.startswith(n)), None)
        if lead is None:
            lead = w.text[:1] if w.text[:1] in "不没别无未" else None
        if lead is None:
            return False
        end = w.start + len(lead)
        return any(s <= w.start and end <= e for s, e in inside)

    def _negation_negated_zh(self, start: int) -> bool:
        """Whether the negation at `start` is itself negated just before it (不是说不会...)."""
        return _DOUBLE_NEGATION_ZH.search(self.text, 0, start) is not None

    def _negated_condition_zh(self, j: int, inside: Sequence[Span]) -> bool:
        """Whether 就 at word `j` follows a short negated condition (还没好就, 不行就,
        没效果就): then the negation ends there. Not after the negation itself (不要就这样停药)
        nor after a negated saying (不能说吃了就不会感冒: the claim with its 就 is denied)."""
        words = self._tokens
        if j == 0 or self._negates_zh(words[j - 1].text, words[j - 1].start, inside):
            return False
        for k in (j - 2, j - 3):
            if k >= 0 and self._negates_zh(words[k].text, words[k].start, inside):
                # A condition's negation says what is not so (没, 不); 别, 不要, 不能 forbid
                # the whole of what follows (别一上来就问她买了啥).
                plain = words[k].text.lstrip("还也都就再").removesuffix("一")
                return plain in _CONDITION_NEGATIONS_ZH and words[k + 1].text not in ("说", "讲")
        return False

    def _negates_zh(self, token: str, start: int, inside: Sequence[Span]) -> bool:
        # jieba glues adverbs to a negation (先别, 再不, 千万不要): read past them.
        lead = token.lstrip("先再也都就还可千万暂时最好")
        start += len(token) - len(lead)
        if not lead or self.text.startswith(_NOT_NEGATING_ZH, start):
            return False
        if (
            lead == "不"
            and start > 0
            and self.text[start - 1] == "要"
            and self.text[start - 2 : start - 1] not in _NOT_SUGGESTING_ZH
        ):
            # 要不您用对乙酰氨基酚 (how about...), 要不然 (otherwise): a suggestion, no
            # negation; but 只要不吃 (as long as you don't) and 需要不 negate.
            return False
        if _a_not_a_zh(self.text, start) is not None:
            # 要不要, 能不能, 有没有 ask however the segmenter cut them (您要不要试试:
            # 要 / 不要 / 试试).
            return False
        # A longer word may start with a negation of two characters or more (the lexicon's
        # 不能保证 is one word to the segmenter); one character alone negates only as a word
        # (不良反应 is no negation), or glued to 一 (别一上来就问: 别一 to the segmenter).
        return (
            lead in NEGATORS_ZH
            or lead.startswith(_LONG_NEGATORS_ZH)
            or (lead.endswith("一") and lead[:-1] in NEGATORS_ZH)
            # the segmenter glues a negation to a verb: 不吃, 不买, 没吃过, 没用过
            or (lead[0] in "不没别" and lead[1:].removesuffix("过") in _GLUED_VERBS_ZH)
        )

    def _reported(self, i: int) -> Word | None:
        """A frame earlier in the sentence that reports or rejects what follows."""
        frames = self._frame_starts()
        if not frames or i < 0:
            return None
        words = self._tokens
        marks = _SENTENCE_MARKS_EN if self.locale == "en" else _SENTENCE_MARKS_ZH
        if words[i].text in marks:
            return None  # the occurrence opens a new sentence: no frame before it reaches it
        start = i
        while start > 0 and words[start - 1].text not in marks:
            start -= 1
        if self.locale == "en":
            # A frame reaches to the end of its sentence, to a "but" or to a dash between
            # spaces, not past it: "if the slip says packed they were ticked off - we've had
            # new temp staff on the line" blames in its own words after the dash.
            for j in reversed([j for j in frames if start <= j <= i]):
                if words[j].text == "you":
                    # The customer's words quoted back reach to the end of their clause:
                    # "you said you're on warfarin, so ibuprofen is out" warns.
                    if all(
                        not w.clause_end and w.text not in _QUOTE_ENDS_EN for w in words[j : i + 1]
                    ):
                        return words[j]
                    continue
                if all(w.text != "but" and w.text != "-" for w in words[j : i + 1]):
                    return words[j]
            return None
        begin, end = words[start].start, words[i].end
        for k in frames:
            if begin <= k < end:
                marker = next((m for m in _REPORT_FRAMES_ZH if self.text.startswith(m, k)), "")
                if not marker:
                    found = _REPORTED_BY_ZH.match(self.text, k)
                    marker = found.group(0) if found else self.text[k : k + 2]
                if marker in ("您说", "你说") and _CLAUSE_END_ZH.search(self.text, k, end):
                    continue  # the customer's words quoted back reach the end of their clause
                if _TURNS_ZH.search(self.text, k + len(marker), end):
                    continue  # 网上说得很吓人，实际上很少见: the trainee's own words again
                return Word(k, k + len(marker), marker)
        return None


#: "On the written guarantee: ...", "As for the vitamin bundle, ...": a heading that names
#: what the sentence goes on to talk about, and asserts nothing of it.
_TOPIC_HEADING_EN = re.compile(
    r"(?:^|[.!?;] )(?:(?:ok|okay|and|so|now|right) (?:, )?)?"
    r"(?:(?P<head>on|about|re) (?:the |your |that |this )?(?:[a-z0-9']+ ){0,3}[a-z0-9']+ (?::|-)"
    r"|(?P<as>as for|as to|regarding|regard) (?:the |your |that |this )?(?:[a-z0-9']+ ){0,3}"
    r"[a-z0-9']+ (?::|-|,))"
)

#: What every heading holds: a message without it has none (read before `_TOPIC_HEADING_EN`).
_HEADING_CUE_EN = re.compile(r":| - |\bas (?:for|to)\b|\bregard(?:ing)?\b")


def _topic_heading_en(text: str, at: int) -> Word | None:
    start = max(text.rfind(m, 0, at) for m in _SENTENCE_MARKS_EN)
    found = _TOPIC_HEADING_EN.match(text, max(0, start))
    if found is None or found.end() <= at:
        return None
    head = "head" if found.group("head") else "as"
    return Word(found.start(head), found.end(head), found.group(head))


def _en_frames(texts: list[str]) -> list[int]:
    """Where an English reporting, disbelief or concession frame starts (word indices of
    the lemmas `texts`)."""
    frames: list[int] = []
    heads = _FRAME_HEADS_EN
    for j, word in enumerate(texts):
        if word not in heads:
            continue  # every frame below starts with one of its heads
        if word in _HEARING_EN and (
            any(t in _REPORTERS_EN for t in texts[j + 1 : j + 3])
            or texts[j + 1 : j + 2] == ["that"]
        ):
            frames.append(j)  # "you'll read online that...", "I've heard people..."
        elif word in _SOLD_AS_EN and texts[j + 1 : j + 2] == ["as"]:
            frames.append(j)  # "advertised as boosting...", "sold as a cure"
        elif word in _REPORTERS_EN:
            # "whatever the 'immune boost' banner on the site suggests": a longer reach
            ahead = texts[j + 1 : j + (9 if word == "whatever" else 6)]
            for verb in ahead:
                if verb in _CLAUSE_MARKS:
                    break
                if verb in _SAYING_EN:
                    frames.append(j)
                    break
        elif word in _TEMPTING_EN:
            # "I know it's tempting to take the ordinary ones, but please don't switch"
            rest = texts[j + 1 :]
            ends = next((k for k, t in enumerate(rest) if t in _SENTENCE_MARKS_EN), len(rest))
            # "It might be tempting to think that's just the bruise" asserts nothing either.
            if "but" in rest[:ends] or (
                rest[:1] == ["to"] and rest[1:2] and rest[1] in _THINKING_EN
            ):
                frames.append(j)
        elif word in _WISHERS_EN:
            # "I'd love to tell you it'll come tomorrow, but I can't", "I wish I could
            # promise...": a wish to say something that the sentence's "but" takes back.
            ahead = texts[j + 1 : j + 5]
            rest = texts[j + 1 :]
            ends = next((k for k, t in enumerate(rest) if t in _SENTENCE_MARKS_EN), len(rest))
            if any(v in _SAYING_EN for v in ahead) and "but" in rest[:ends]:
                frames.append(j)
        elif word in _CONCEDERS_EN:
            ahead = texts[j + 1 : j + 5]
            rest = texts[j + 1 :]
            ends = next((k for k, t in enumerate(rest) if t in _SENTENCE_MARKS_EN), len(rest))
            if (
                any(v in _SAYING_EN or v in ("recommend", "advise", "suggest") for v in ahead)
                and "but" in rest[:ends]
            ):
                frames.append(j)
        elif word == "you" and _quotes_customer(texts, j):
            frames.append(j)  # "you said nobody can tell yet", "you asked if..."
        elif word == "before" and _asks_first(texts, j):
            frames.append(j)  # "Before I pop the ibuprofen in a basket, can I check...?"
        elif word in _DISBELIEF_HEADS_EN:
            for frame in _DISBELIEF_EN:
                if tuple(texts[j : j + len(frame)]) == frame:
                    frames.append(j)
                    break
    return frames


_BEFORE_OPENERS_EN = frozenset("so but and ok okay sure great right oh".split())
_ASKING_AUX_EN = frozenset("do be have can could may would will".split())


def _asks_first(texts: list[str], j: int) -> bool:
    """A sentence that opens "before I/we <do it>," and goes on with a question ("can I
    check...?", "do you take...?") or "let me" does not say it will be done: it asks first."""
    if texts[j + 1 : j + 2] not in (["i"], ["we"]):
        return False
    if j > 0 and texts[j - 1] not in (_CLAUSE_MARKS | _BEFORE_OPENERS_EN):
        return False
    if texts[j + 2 : j + 3] == ["can"]:
        return True  # "Before I can book you I have to run through a few questions"
    for k in range(j + 2, len(texts)):
        if texts[k] in _SENTENCE_MARKS_EN:
            return False
        if texts[k] == ",":
            after = texts[k + 1 : k + 3]
            return len(after) == 2 and (
                (after[0] in _ASKING_AUX_EN and after[1] in _SUBJECTS_EN) or after == ["let", "me"]
            )
    return False


_PAST_EN = frozenset("were was did had".split())
_UNREAL_MODALS = frozenset("would could might".split())


def _counterfactual_frames(plain: str, words: list[Word]) -> list[int]:
    """Where a counterfactual starts: "if you weren't on warfarin, ibuprofen would be fine",
    "I'd say go ahead if it wasn't for the pregnancy", "otherwise I'd suggest ibuprofen".

    The condition is negated in the past tense (were/was/did/had + not), which the lemmas
    no longer show, so the message's words as typed are read again; the frame covers the
    sentence's "would" clause, from the sentence's start when "would" comes first.
    """
    if ".." in plain:
        plain = _ELLIPSIS.sub(" ", plain)
    typed = expand(_V2_EN_TOKEN.findall(plain))
    if len(typed) != len(words):
        return []
    frames: list[int] = []
    start = 0  # the current sentence's first word
    for j, token in enumerate(typed):
        if token in _SENTENCE_MARKS_EN:
            start = j + 1
            continue
        if token == "otherwise":
            if "would" in (w.text for w in words[j + 1 : j + 4]):
                frames.append(j)
            continue
        if token != "if":
            continue
        clause = []
        for k in range(j + 1, len(typed)):
            if typed[k] in _CLAUSE_MARKS:
                break
            clause.append(typed[k])
        negated_past = any(
            a in _PAST_EN and b in ("not", "no") for a, b in itertools.pairwise(clause)
        )
        # "if it were only tired eyes", "if you'd finished it a year ago" (had + participle)
        unreal = "were" in clause or any(
            a in ("had", "would") and b.endswith(("ed", "en")) and len(b) > 3
            for a, b in itertools.pairwise(clause)
        )
        if not negated_past and not (
            # An unreal condition rejects its consequence only when the message then says
            # it is not so ("..., but with myasthenia it's a no", "It isn't, though"): "if you
            # were in pain I'd suggest paracetamol" still advises.
            unreal
            and any(t in ("not", "no", "never", "but", "though") for t in typed[j + len(clause) :])
        ):
            continue
        sentence_end = next(
            (k for k in range(j, len(typed)) if typed[k] in _SENTENCE_MARKS_EN), len(typed)
        )
        before = any(w.text in _UNREAL_MODALS for w in words[start:j])
        after = any(w.text in _UNREAL_MODALS for w in words[j:sentence_end])
        if before:
            frames.append(start)
        elif after:
            frames.append(j)
    return frames


def link_rejections(readings: Sequence[Text]) -> None:
    """Between a trainee's consecutive messages: a message that opens by rejecting what was
    just said ("It's 100% safe." then "no sorry, that's not true") takes back the last
    sentence of the one before. The grader links them; the persona, which answers each
    message as it comes, has already replied to the first."""
    for before, after in itertools.pairwise(readings):
        if isinstance(before, Negation) and isinstance(after, Negation):
            word = after.opening_rejection()
            if word is not None:
                before.reject_last_sentence(word)
