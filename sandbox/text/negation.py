"""Negation v2: whether a format v2 reading asserts what a phrase found in it says
(docs/format-v2.md, "Negation").

A negation reaches to the end of its clause (up to `SCOPE` words) rather than three words,
knows negative quantifiers ("nobody", "no clinic", 没人, 谁也不) and refusal frames ("unable
to", 没办法), and treats a reported or rejected claim ("anyone who tells you it's 100%
safe...", 谁说..., a sentence or the next message that calls it untrue) as not made.
Litotes ("not unusual") and comparisons ("no more than") do not negate.

`Negation` holds the rules; `sandbox.text.reading.Reading` holds the words they read, and
`sandbox.text.negation_en` and `sandbox.text.negation_zh` each language's words and frames.
Every rule here is a rule: nothing is learned, so the same message always reads the same.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from sandbox.text.matcher import Span, Text, Word
from sandbox.text.negation_en import (
    _ANSWERS_NO_EN,
    _ASKING_EN,
    _CLAUSE_END_EN,
    _CLAUSE_MARKS,
    _COMPLEMENT_EN,
    _CONCEDED_EN,
    _CONTRAST_EN,
    _DECIDED_EN,
    _FEELING_GOES_ON_EN,
    _FEELINGS_EN,
    _FRAME_HEADS_EN,
    _HEADING_CUE_EN,
    _KNOWING_EN,
    _LONG_REACH_EN,
    _NEGATING_AFTER_NO_EN,
    _NOT_NEGATING_NEXT_EN,
    _PAIR_HEADS_EN,
    _QUOTE_ENDS_EN,
    _REJECTED_AFTER_EN,
    _REJECTION_WORDS_EN,
    _REJECTS_BEFORE_EN,
    _SAYING_EN,
    _SCOPE_BREAK_EN,
    _SENTENCE_END_EN,
    _SENTENCE_MARKS_EN,
    _SUBJECTS_EN,
    _TURNED_DOWN_EN,
    _UNREAL_MODALS,
    NEGATOR_PAIRS_EN,
    NEGATORS_EN,
    _counterfactual_frames,
    _en_frames,
    _extends_before,
    _topic_heading_en,
)
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
        if (
            told
            and found.text in ("whether", "if")
            and self.locale == "en"
            and found is self._embedded_question_en(self._last_word_before(at))
        ):
            return False  # an embedded question takes back nothing a disclosure tells
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
        """The "whether" or "if" that opens the clause of the word at `i` as an embedded
        question: after a verb of asking, deciding or saying ("check with your GP if you can
        skip a dose"), or a "whether" whose sentence says whose call it is ("whether it can
        be paused is your cardiologist's call"). What it holds is asked of someone, not said;
        what a disclosure or warning tells is unaffected (`negated`)."""
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
