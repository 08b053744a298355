"""Speech acts: whether a message's clause asks, requests, offers or tells (docs/format-v2.md).

In format v2 an `inquiry` must ask or request and a `disclosure` must tell: a question does
not disclose ("is it safe with warfarin?"), and a statement that names the topic does not
ask ("理解您的担心"). `SpeechActs` holds the rules a `Reading` applies to the clause around an
occurrence; they read the reading's text (lemmas in English, simplified Chinese) and need
nothing else from it. Every rule is a rule: the same clause always reads the same.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from sandbox.text.negation_en import _SUBJECTS_EN

# -- English -----------------------------------------------------------------------------

_DISCOURSE_EN = frozenset(
    "so and also ok okay oh um hi hello hey just then but well right roughly approximately "
    "exactly".split()
)
_QUESTION_OPENERS_EN = frozenset(
    "do did have can could would will are is be was were any anything what which who "
    "whom whose how when where why may might shall should ever".split()
)
_WH_EN = frozenset("what which who whom whose how why".split())
_WH_SUBORDINATE_EN = frozenset("when where".split())
_AUX_EN = frozenset("do be have can could would will shall should may might must".split())
# Offers and directives put as questions: they tell rather than ask.
_OFFER_FRAMES_EN = tuple(
    f" {frame} "
    for frame in (
        "would you like me",
        "would you like us",
        "would you like to",
        "do you want me",
        "do you want us",
        "shall i",
        "shall we",
        "should i book",
        "can i book",
        "can i get you",
        "can i offer",
        "want me to",
        "how about",
        "why not",
        "why do not you",
        "why do not we",
        "what about booking",
        "would it help if",
        "if you prefer",
        "if you like",
        "if you would like",
        "if you want",
        "if that be useful",
        "if that help",
        "if that work",
        "if that suit",
        "i can",
        "we can",
        "i could",
        "we could",
        "i will",
        "we will",
        "let me",
    )
)
_DIRECTIVE_EN = re.compile(r" (can|could|would|will) you (please )?(\w+)")
# A suggestion that someone else act: "could your mum call us with you?"
_DIRECTIVE_OTHERS_EN = re.compile(r" (can|could) (your \w+|she|he|they) (\w+)")
_ASKING_VERBS_EN = frozenset(
    "tell let confirm share say list describe explain check remind give send show".split()
)
_REQUEST_FRAMES_EN = tuple(
    f" {frame} "
    for frame in (
        "tell me",
        "let me know",
        "let us know",
        "can you",
        "could you",
        "would you",
        "will you",
        "please share",
        "like to know",
        "love to know",
        "keen to know",
        "like to hear",
        "love to hear",
        "keen to hear",
        "tell us",
        "need to know",
        "want to know",
        "may i ask",
        "mind tell",
        "wonder if",
        "wonder whether",
        "check if",
        "check whether",
        "just to check",
        "quick question",
        "please confirm",
        "confirm for me",
        "please list",
        "please describe",
        "describe",
        "let me ask",
        "can i ask",
        "could i ask",
        "can i have",
        "can i get",
        "could i have",
        "could i get",
        "please send",
        # "please run me through your regular medication", "talk me through what you take"
        "run me through",
        "talk me through",
        "walk me through",
        "please let me have",
        "please provide",
        "please give",
        "i need the",
        "i need your",
        "i will need",
        "i would need",
        # The trainee's own need to ask or check ("they may want to check it" is no request).
        *(
            f"{who} {need} to {verb}"
            for who in ("i", "we", "i just", "we just", "i would")
            for need in ("need", "have", "want", "like", "must", "got")
            for verb in ("ask", "check", "confirm", "know")
        ),
        *(f"{who} must {verb}" for who in ("i", "we") for verb in ("ask", "check")),
    )
)


def _frames_by_head(frames: Sequence[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Frames written " w1 w2 ... " as their first word and, for each, the words after it."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for frame in frames:
        words = frame[1:-1].split(" ")
        assert frame == f" {' '.join(words)} " and all(words), frame
        index.setdefault(words[0], []).append(tuple(words[1:]))
    return {head: tuple(rests) for head, rests in index.items()}


#: The request frames, and a need to know ("I'll just need the order number", "we'd need
#: your date of birth": i/we, will/would or neither, just or not, need the/your/a/to know/to
#: see), by their first word. A frame " w1 ... wk " occurs in " clause " exactly when
#: w1 ... wk are consecutive items of `clause.split(" ")`: the frame's spaces fall on the
#: clause's separators (or its padding) and no word of it holds a space. Looking the words
#: up costs a tenth of searching the text with an alternation of every frame, which the
#: regex engine tries at every position.
_REQUESTS_BY_HEAD_EN = _frames_by_head(
    (
        *_REQUEST_FRAMES_EN,
        *(
            f" {who}{will}{just} need {what} "
            for who in ("i", "we")
            for will in ("", " will", " would")
            for just in ("", " just")
            for what in ("the", "your", "a", "its", "their", "some", "to know", "to see")
        ),
    )
)


def _requests_en(clause: str) -> bool:
    """Whether a request frame (or a need to know) occurs in the lemma text `clause`."""
    words = clause.split(" ")
    heads = _REQUESTS_BY_HEAD_EN
    for j, word in enumerate(words):
        rests = heads.get(word)
        if rests is not None:
            for rest in rests:
                if tuple(words[j + 1 : j + 1 + len(rest)]) == rest:
                    if word in ("need", "want") and j and words[j - 1] in _THIRD_PARTIES_EN:
                        continue  # "they need to know before prescribing" tells
                    return True
    return False


#: Whose need to know is no request of the trainee's: the doctor's, someone else's.
_THIRD_PARTIES_EN = frozenset("they he she doctor doc gp pharmacist prescriber them".split())


# -- Chinese -----------------------------------------------------------------------------

# A Chinese clause asks when it ends with ？ or a question particle, holds an A-not-A form
# or a request, or a question word that is not an indefinite ("过几天", "没有什么",
# "什么都", "哪天都行" are statements).
_ASK_FORMS_ZH = (
    "有没有",
    "是不是",
    "能不能",
    "可不可以",
    "会不会",
    "要不要",
    "用不用",
    "吃没吃",
    "对不对",
    "行不行",
    "在不在",
    "有无",
    "是否",
    "请问",
    "有吃过",
    "有在吃",
    "有没吃",
    "吃过没",
    "用过没",
)
_REQUEST_ZH = re.compile(
    r"(麻烦|请|方便)[您你]?(再)?(提供|告诉|说|发|报|确认|留|讲|拍|截图|描述)"
    r"|(麻烦|请)[您你]?帮[^，,。！？!?]{0,4}?(确认|提供|告诉|说|报|问)"
    r"|都说说|说说看|说一说|都讲讲"
    # an alternative question: 是...还是..., 偏干还是偏油
    r"|是[^，,。！？!?]{1,8}还是|偏[^，,。！？!?]{1,3}还是偏"
    r"|告诉我|[跟和给]我(说|讲|聊)|(?<![补重再转])发(给)?我(?!们)|给我[个一]个?(数|准|底|范围|区间|大概)"
    r"|[您你](说|讲|报|发|确认)一下"
    r"|让我了解|我想了解|我了解一下|我确认一下|[跟和]您确认|[跟和]你确认|我问一下|我问下"
    r"|想问|问问您|问问你|想知道|我得知道|需要知道|需要了解|我先了解"
)
_WH_ZH = re.compile("什么|啥|哪|多少|几|怎么|如何|咋|谁")
_WH_INDEFINITE_ZH = re.compile(
    r"[没不无别]有?(什么|啥|哪|多少|几|怎么|谁)"
    r"|(知道|清楚|保证|管|论|随便|不论|无论)[^，,。！？]{0,3}(什么|啥|哪|多少|几|怎么|谁)"
    r"|(什么|啥|哪[天个种里]?|多少|几[天个次]?|怎么|谁)[^，,。！？]{0,2}[都也]"
    r"|[这过前好那十头最近]几|几乎|什么的|怎么样[的地]|为什么"
    r"|(什么|啥|哪|多少|几|怎么|谁).{0,8}(不清楚|不知道|不了解|不确定|不好说)"
    r"|谁[^，,。！？]{0,8}(说|保证|承诺|讲|吹)"
    # what only the doctor will know: 具体适合什么方案得医生当面看了才知道
    r"|(什么|啥|哪|怎么|多少)[^，,。！？!?]{0,20}(才知道|才能知道|才清楚|才能定|再定|来定|来设计|说了算"
    r"|要看|得看|取决于)"
)
# A question put to someone else inside a statement: 让医生评估有没有其他方式.
_EMBEDDED_ZH = re.compile(
    r"(让|请|由|等|叫)(医生|大夫|药师|专家|主任)|(医生|大夫|药师)(会|来|帮您|帮你|给您)"
    r"|(评估|判断|检查|决定)(一下)?(看看)?(有没有|是否|适合|能不能|要不要|什么)"
)
_QUESTION_ENDS_ZH = ("吗", "呢", "么", "嘛", "没", "不")
# An A-not-A form of any verb or adjective (吃不吃, 疼不疼, 过不过敏, 买没买) asks.
_A_NOT_A_ZH = re.compile(r"(?!一)([\u4e00-\u9fff])[不没]\1")
# ...but not one left to the customer or made no matter: 买不买看您, 不管吃不吃都要...
_A_NOT_A_TOLD_ZH = re.compile(
    "不管|无论|不论|看您|看你|随您|随你|都行|都可以|由您|由你|您定|你定|您决定|你决定|无所谓|取决|会问"
)
# What a clause's last particles may be, after its question: 过敏不 亲, 有药物过敏吗亲.
_TRAILING_ZH = "，,。.!！~～ 哈啊呀哦嗯亲"
# Offers and directives put as questions (要不要我帮您约, 您看可以吗 after an offer is its own
# clause): they tell rather than ask.
_OFFER_ZH = re.compile(
    r"要不要我|需不需要我|要不我|我帮您.{0,8}(吗|呢|？|\?)|帮您.{0,6}好吗|"
    r"您看.{0,4}(可以|行)吗|给您.{0,8}(好吗|可以吗)"
)
_ZH_CLAUSE_SPLIT = re.compile(r"(?<=[，,;；。！？!?\n])")


def _zh_asks(clause: str) -> bool:
    """Whether one Chinese clause asks or requests something."""
    if "?" in clause or "？" in clause:
        return True
    if _EMBEDDED_ZH.search(clause) and not clause.rstrip(_TRAILING_ZH).endswith("吗"):
        return False
    stripped = clause.rstrip(_TRAILING_ZH)
    final = not clause.endswith(("，", ","))
    if (
        stripped.endswith("吗")
        or (final and stripped.endswith(_QUESTION_ENDS_ZH))
        # 最近有吃活血的东西么，阿司匹林这种: 么 asks even before a comma (not 什么, 那么...)
        or (stripped.endswith("么") and stripped[-2:-1] not in "什怎那这多要")
        # 吃过药没，吃的啥: a perfective ...没 asks even before a comma (还没 is "not yet")
        or (stripped.endswith("没") and stripped[-2:-1] not in "还也都并从就" and "过" in stripped)
    ):
        # 呢 before a comma marks a topic (您问的这个呢，...), not a question.
        return True
    if any(form in clause for form in _ASK_FORMS_ZH) or _REQUEST_ZH.search(clause):
        return True
    if _A_NOT_A_ZH.search(clause) and not _A_NOT_A_TOLD_ZH.search(clause):
        return True
    if _WH_ZH.search(clause) is None:
        return False
    return _WH_ZH.search(_WH_INDEFINITE_ZH.sub("", clause)) is not None


def _strip_discourse(words: list[str]) -> list[str]:
    """Words without the discourse words and coordinators a clause may open with ("so",
    "and", "or at least", "-")."""
    k = 0
    while k < len(words) and (words[k] in _DISCOURSE_EN or words[k] in _LEADING_EN):
        k += 1
    return words[k:]


#: A question that opens inside a clause typed without marks (`SpeechActs._asks_midway_en`):
#: an auxiliary before its subject, a wh-word with one, "how many ... you", or "any" after
#: an acknowledgement.
_MIDWAY_QUESTION_EN = re.compile(
    r"\b(?:do|did|be|are|is|have|can|could|would|will) "
    r"(?:you|it|there|they|he|she|your \w+)(?! (?:should|must|need|will|can|do)\b)\b"
    r"|\b(?:what|how|when|where|which|who)(?: (?!(?:you|it|they|he|she|i|we)\b)\w+){0,4} "
    r"(?:be|are|is|do|did|have|can|will|would) (?:you|it|there|they|he|she|your|the|this|that)\b"
    r"|\bhow (?:many|much|long|often)(?: \w+)? you\b"
    r"|\bwhich \w+ (?:do|did|be|are|is|have|will|would)\b"
    r"|\b(?:thanks|thank you|ok|okay|great|cool|note|noted|perfect|sure|right|gotcha|lovely"
    r"|brilliant|also|plus|oh|q|qs|question|btw) (?:any|anything)\b"
)
#: What a question opening with "is"/"are" follows when typed on without a mark: an
#: acknowledgement, a greeting, an apology ("thx noted r u on any meds").
_BEFORE_MIDWAY_COPULA_EN = frozenset(
    "hi hello hey thanks thank thx ok okay sorry great cool note noted perfect sure right "
    "gotcha lovely brilliant also and so oh ah yes yeah no btw first then now well anyway "
    "q question qs that there".split()
)
#: Words after which an auxiliary is not a question's: a modal or "to" before it ("that
#: will be it"), a condition or a relative ("if it is", "what it does").
_NOT_BEFORE_MIDWAY_EN = frozenset(
    "will would can could should must may might to not which who what if whether when where".split()
)
#: ... nor, unless the auxiliary is do, its own subject ("it is", "that will be").
_SUBJECTS_BEFORE_MIDWAY_EN = frozenset("that this it i we they you he she there".split())


def _opens_question_en(clause: str) -> bool:
    """Whether an English clause (lemma text) opens as a question: by its first words, or
    after a dash ("one more thing - is your skin...")."""
    return any(_opener_asks(part) for part in clause.split(" - "))


def _opener_asks(clause: str) -> bool:
    words = _strip_discourse(clause.strip(" ,;:").split(" ")[:8])
    opener = words[0] if words else ""
    after = words[1] if len(words) > 1 else ""
    # "don't take it" is an order, "do you take it" a question; "what I can do is..."
    # and "when the baby is here, ..." are statements.
    if opener in _WH_SUBORDINATE_EN:
        if after in _AUX_EN:
            return True
    elif opener in _WH_EN:
        if after not in ("i", "we", "a", "an"):
            return True
    elif opener in _AUX_EN:
        # "Have you had...", "are you...", "is it...": an auxiliary before its subject.
        # "Have a chat with your GP" and "do take care" are imperatives.
        if after in _SUBJECTS_EN:
            return True
    elif opener in _QUESTION_OPENERS_EN:
        return True
    return False


# Openings that look like a question's but, without a question mark, make a statement: an
# inverted condition ("should it get worse, see a doctor"), a relative clause ("..., which
# makes it a more complicated procedure") and "any" before a verb ("any change to your blood
# thinner is a decision for your doctor").
_INVERTED_CONDITIONS_EN = frozenset("should were had".split())
_RELATIVE_VERBS_EN = frozenset(
    "make mean be can could will would may might cause help increase raise lower put leave "
    "give take".split()
)
_STATEMENT_VERBS_EN = frozenset("be must should".split())


def _opens_statement_en(clause: str) -> bool:
    """Whether a clause typed without a question mark opens a statement, though its first
    word could open a question (`_opener_asks`)."""
    words = _strip_discourse(clause.strip(" ,;:.").split(" ")[:10])
    if len(words) < 2:
        return False
    opener, after = words[0], words[1]
    if opener in _INVERTED_CONDITIONS_EN:
        return after in _SUBJECTS_EN and clause.rstrip().endswith(",")
    if opener == "which":
        return after in _RELATIVE_VERBS_EN
    if opener in ("any", "anything"):
        return not _STATEMENT_VERBS_EN.isdisjoint(words[2:])
    return False


# A need stated by the trainee's side ("we need a valid prescription", "we'll need a
# prescription from your doctor").
_STATES_NEED_EN = re.compile(r" (i|we)( will| would)?( just)? need (a|an|the) ")

# A sentence that says why the question before it was asked (lemma text).
_EXPLAINS_ASKING_EN = (
    "i ask because",
    "i be ask because",
    "i be only ask because",
    "i only ask because",
    "the reason i ask",
    "the reason i be ask",
    "reason i ask",
    "i ask as",
    "i be ask as",
    "why i ask",
)
# A follow-up question without its mark opens with one of these and holds an "any".
_FOLLOW_UPS_EN = frozenset("and or also plus".split())
_ANY_EN = frozenset("any anything anyone anybody".split())
# Words a clause may open with before its question ("or are you on anything else...").
_LEADING_EN = frozenset({"or", "-", "at", "least", "maybe", "also", "plus"})
# A clause that carries on the request or question before it: "..., and whether anyone has
# looked into it", "or at least what it's for".
_CONTINUES_EN = frozenset("whether if what which who how when where".split())
# A request that opens a list with a colon: "I need: - your order number".
_REQUEST_COLON_EN = re.compile(
    r"\b(need|want|like|ask|check|confirm|know|tell me|send|send me|provide|share|"
    r"give me|following|few thing|couple of thing|question|detail)s? :$"
)
# Words by which a question points back at the sentence before it.
_BACK_REFERENCES_EN = tuple(
    f" {ref} "
    for ref in (
        "any of these",
        "any of those",
        "any of that",
        "any of them",
        "either of those",
        "either of these",
        "none of those",
        "none of these",
        "the above",
        "that apply",
        "those apply",
        "these apply",
        "that sound like you",
        "that ring a bell",
    )
)
# Words that open the first half of an alternative question (是A，还是B).
_ALTERNATIVE_OPENERS_ZH = ("是", "您是", "你是", "主要是")
# 还是 as "still", not "or": 还是建议您先去医院.
_STILL_ZH = tuple(f"还是{w}" for w in "建议 要 得 先 请 可以 需要 会 不 别 没".split())
# Words that open a clause going on with the question before it.
_CONTINUES_ZH = ("或者", "或是", "还是", "还有", "以及")
_BACK_REFERENCE_ZH = re.compile(
    r"这几[样种类个点条项]|这些|以上|上面[这那说]|上述|这类情况|这种情况|这两[样种个点]"
)


# The marks that end a clause and a sentence, for speech acts.
_CLAUSE_MARK_EN = re.compile("[,;:.!?]")
_CLAUSE_MARK_ZH = re.compile("[，,;；。！？!?\n]")
_SENTENCE_MARK_EN = re.compile("[?!.;]")
_SENTENCE_MARK_ZH = re.compile("[?!.;。！？；\n]")


def _following(text: str, marks: list[int], at: int) -> str:
    """The segment after the one around `at` (`_around`), or "" when it is the last."""
    i = bisect_left(marks, at)
    return _around(text, marks, marks[i] + 1) if i < len(marks) else ""


def _offers_alternative_zh(clause: str) -> bool:
    """Whether a clause opens the second half of an alternative question (还是..., not
    还是建议... "still")."""
    return clause.startswith("还是") and not clause.startswith(_STILL_ZH)


def _around(text: str, marks: list[int], at: int) -> str:
    """The text from after the last mark before `at` to the first mark at or after it (that
    mark included), stripped; `marks` are the marks' positions in `text`, in order."""
    i = bisect_left(marks, at)
    begin = marks[i - 1] + 1 if i > 0 else 0
    end = marks[i] + 1 if i < len(marks) else len(text)
    return text[begin:end].strip()


_TAG_WORDS_EN = frozenset("right yeah yes correct ok okay no yep eh".split())
_TAG_AUX_EN = frozenset("be do have can will would could should".split())
_TAG_PRONOUNS_EN = frozenset("you it they we she he i that there".split())


def _tail(sentence: str) -> list[str]:
    """The words after a sentence's last comma, semicolon or colon: where a tag stands."""
    return re.split(r"[,;:]", sentence)[-1].replace("?", " ").split()


def _is_tag(words: list[str]) -> bool:
    """A question tag: "right?", "yeah?", "are you?", "aren't you?", "is it?"."""
    if len(words) == 1:
        return words[0] in _TAG_WORDS_EN
    if words and words[0] in _TAG_AUX_EN:
        rest = words[1:]
        if rest and rest[0] == "not":
            rest = rest[1:]
        return len(rest) == 1 and rest[0] in _TAG_PRONOUNS_EN
    return False


class SpeechActs:
    """The speech-act rules of a `Reading`: what they need from it is declared here, and
    their caches are the reading's fields."""

    text: str
    locale: str
    _clause_marks: list[int] | None
    _sentence_marks: list[int] | None

    def act_fits(self, at: int, act: str) -> bool:
        """An inquiry needs a question or request; a disclosure a statement, an offer or a
        directive ("would you like me to book a consultation?", "can you come in today?").
        An offer or directive put as a question counts for both: it asks and it tells. So
        does a clause a question takes in without being one (`asked_within`)."""
        if act == "ask":
            return self.asks_at(at) or self.asked_within(at)
        if act == "warn":
            return True  # a warning counts as a statement or a question
        return (
            not self.asks_at(at)
            or self.offers_at(at)
            or self.states_need_at(at)
            or self._tagged_at(at)
        )

    def _tagged_at(self, at: int) -> bool:
        """A statement with a tag after it ("flag it with whoever writes the prescription,
        ok?", "paracetamol is the safer one, right?") tells: only the tag asks."""
        if self.locale != "en":
            return False
        clause = self._clause(at)
        if "?" in clause or _opens_question_en(clause):
            return False
        sentence = self._sentence(at)
        if not sentence.endswith("?"):
            return False
        tail = _tail(sentence)
        return tail != sentence.replace("?", " ").split() and _is_tag(tail)

    def states_need_at(self, at: int) -> bool:
        """A need stated without a question mark asks for it and tells it: "we need a valid
        prescription before we can send it" states the rule."""
        if self.locale != "en":
            return False
        clause = self._clause(at)
        return "?" not in clause and _STATES_NEED_EN.search(f" {clause} ") is not None

    def asked_within(self, at: int) -> bool:
        """Whether the clause at `at` is asked by a question or request around it, though it
        does not ask by itself: the middle of a question ("one more thing - is your skin
        sensitive to the sun, or are you on anything that makes you burn (some antibiotics,
        for ex)?"), a clause that continues a request ("I'd need to know what you take, and
        whether anyone has looked into it"), the list after a request's colon ("I need: -
        your order number"), or a list the next sentence asks about ("孕妇、哺乳期都不能打。
        您这几样都不沾吧？", "...or a clotting problem. Any of those apply to you?"). Such a
        clause still tells what it says: it counts for an inquiry and for a disclosure."""
        if self.locale != "en":
            return self._asked_back(at) or self._continues_question_zh(at)
        sentence = self._sentence(at)
        clauses = self._clauses_before(at)
        if sentence.endswith("?") and any(_opens_question_en(c) for c in clauses):
            return True
        if self._follows_question(at, sentence) or self._explains_question(at, sentence):
            return True
        if clauses:
            before = clauses[-1]
            if before.endswith(":") and _REQUEST_COLON_EN.search(before):
                return True
            words = _strip_discourse(self._clause(at).strip(" ,;:").split(" "))
            if (
                words
                and words[0] in _CONTINUES_EN
                and (_requests_en(before) or _opens_question_en(before))
            ):
                return True
        return self._asked_back(at)

    def _continues_question_zh(self, at: int) -> bool:
        """A clause that goes on with the question before it in the same sentence
        (有没有吃过四环素这类抗生素，或者异维A酸呀), or the first half of an alternative question
        (是皮肤缺水起皮，还是想提亮呀)."""
        clause = self._clause(at)
        if clause.startswith(_ALTERNATIVE_OPENERS_ZH) and _offers_alternative_zh(
            _following(self.text, self._clause_mark_list(), at)
        ):
            return True
        if not clause.startswith(_CONTINUES_ZH) or clause.startswith(_STILL_ZH):
            return False
        clauses = self._clauses_before(at)
        if not clauses:
            return False
        before = clauses[-1]
        return _zh_asks(before) or (
            clause.startswith("还是") and before.startswith(_ALTERNATIVE_OPENERS_ZH)
        )

    def _follows_question(self, at: int, sentence: str) -> bool:
        """A follow-up typed without its question mark, right after a question: "r u taking
        any meds? and besides the isotretinoin any other acne stuff in the last yr"."""
        words = sentence.split(" ")
        if not words or words[0] not in _FOLLOW_UPS_EN or _ANY_EN.isdisjoint(words):
            return False
        return self._after_question(at)

    def _explains_question(self, at: int, sentence: str) -> bool:
        """A sentence that says why the question before it was asked names what it asks
        about: "Ok, and over the past year? I ask because a lot of people have just finished
        a course of something like Roaccutane"."""
        return sentence.startswith(_EXPLAINS_ASKING_EN) and self._after_question(at)

    def _after_question(self, at: int) -> bool:
        """Whether the sentence before the one at `at` ends with a question mark."""
        marks = self._sentence_mark_list()
        i = bisect_left(marks, at)
        return i > 0 and self.text[marks[i - 1]] == "?"

    def _clauses_before(self, at: int) -> list[str]:
        """The clauses of the sentence around `at` that come before the clause at `at`."""
        sentence_marks = self._sentence_mark_list()
        i = bisect_left(sentence_marks, at)
        begin = sentence_marks[i - 1] + 1 if i > 0 else 0
        clause_marks = self._clause_mark_list()
        j = bisect_left(clause_marks, at)
        ends = [m for m in clause_marks[:j] if m >= begin]
        found, start = [], begin
        for end in ends:
            found.append(self.text[start : end + 1].strip())
            start = end + 1
        return [c for c in found if c]

    def _asked_back(self, at: int) -> bool:
        """Whether the next sentence asks about "these", "those", 这几样... (the list the
        sentence at `at` gave)."""
        following = _following(self.text, self._sentence_mark_list(), at)
        if not following:
            return False
        if self.locale == "en":
            padded = f" {following} "
            return any(ref in padded for ref in _BACK_REFERENCES_EN) and (
                following.endswith("?") or _requests_en(following)
            )
        return _BACK_REFERENCE_ZH.search(following) is not None and _zh_asks(following)

    def offers_at(self, at: int) -> bool:
        """Whether the clause at `at` offers or directs rather than asks for information."""
        clause = f" {self._clause(at)} "
        if self.locale == "en":
            if any(frame in clause for frame in _OFFER_FRAMES_EN):
                return True
            found = _DIRECTIVE_EN.search(clause) or _DIRECTIVE_OTHERS_EN.search(clause)
            return found is not None and found.group(3) not in _ASKING_VERBS_EN
        return _OFFER_ZH.search(clause) is not None

    def asks_at(self, at: int) -> bool:
        """Whether the sentence around position `at` asks or requests something."""
        if self.locale != "en":
            return _zh_asks(self._clause(at))
        clause = self._clause(at)
        if "?" in clause:
            return True
        sentence = self._sentence(at)
        # A tag ("right?", "are you?", "yeah?") makes the whole sentence a question.
        if sentence.endswith("?") and _is_tag(_tail(sentence)):
            return True
        if not sentence.endswith("?") and _opens_statement_en(clause):
            return _requests_en(clause) or self._asks_midway_en(at)
        return _opens_question_en(clause) or _requests_en(clause) or self._asks_midway_en(at)

    def _asks_midway_en(self, at: int) -> bool:
        """A question typed on without a mark after what came before it in the clause: "hi
        sorry ur not well do u have a prescripton", "thx noted r u on any meds", "gotcha
        whats the order no": an auxiliary before its subject, a wh-word with one, or "any"
        after an acknowledgement, opening in the clause at or before `at`."""
        marks = self._clause_mark_list()
        start = max((m for m in marks if m < at), default=-1) + 1
        end = min((m for m in marks if m >= at), default=len(self.text))
        text = self.text
        for found in _MIDWAY_QUESTION_EN.finditer(text, start, end):
            if found.start() > at:
                break  # a question after the words asked about is another one
            before = text[start : found.start()].split()
            words = found.group(0).split(" ")
            if before and before[-1] in _NOT_BEFORE_MIDWAY_EN:
                continue  # "that'll be it", "if u do it"
            if (
                before
                and before[-1] in _SUBJECTS_BEFORE_MIDWAY_EN
                and words[0] not in ("do", "did")
            ):
                continue  # "it is", "that will be" ("get it do u know..." asks)
            if (
                before
                and words[0] in ("be", "are", "is")
                and words[1] not in ("you", "u")
                and before[-1] not in _BEFORE_MIDWAY_COPULA_EN
            ):
                continue  # "the reason is your skin is still healing": a statement's copula
            return True
        return False

    def _clause(self, at: int) -> str:
        """The clause around `at`, with the mark that ends it."""
        return _around(self.text, self._clause_mark_list(), at)

    def _clause_mark_list(self) -> list[int]:
        """Where the marks that end a clause stand, found once per message."""
        if self._clause_marks is None:
            pattern = _CLAUSE_MARK_EN if self.locale == "en" else _CLAUSE_MARK_ZH
            self._clause_marks = [m.start() for m in pattern.finditer(self.text)]
        return self._clause_marks

    def _sentence_mark_list(self) -> list[int]:
        """Where the marks that end a sentence stand, found once per message."""
        if self._sentence_marks is None:
            pattern = _SENTENCE_MARK_EN if self.locale == "en" else _SENTENCE_MARK_ZH
            self._sentence_marks = [m.start() for m in pattern.finditer(self.text)]
        return self._sentence_marks

    def _sentence(self, at: int) -> str:
        return _around(self.text, self._sentence_mark_list(), at)
