"""The tables and small readers of English negation v2 (docs/format-v2.md, "Negation"):
the negators and what does not negate ("no more than", "not unusual"), what ends a
negation's reach, reporting and rejecting frames ("anyone who tells you...", "that's a
myth"), embedded questions, headings and counterfactuals. `sandbox.text.negation.Negation`
applies them; they are apart from it so that each language's words can be read on their
own, as `sandbox.text.negation_zh` holds the Chinese ones.
"""

from __future__ import annotations

import itertools
import re

from sandbox.text.lemmas import expand
from sandbox.text.matcher import _EN_TOKEN, Word

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
#: "I know plenty of runners take ibuprofen, but with your warfarin it's a no": what the
#: trainee grants before a "but" is granted, not said.
_GRANTING_EN = frozenset("know understand appreciate realise realize".split())
#: "I'd be lying if I said it'll definitely come", "it would be wrong of me to promise...":
#: what the trainee says it would be untrue or wrong to say is not said.
_UNSAYABLE_EN = frozenset("lie dishonest wrong mislead misleading irresponsible unfair".split())
_FRAME_HEADS_EN = (
    _UNSAYABLE_EN
    | _GRANTING_EN
    | _HEARING_EN
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
#: Words that call a claim untrue: a sentence of them rejects the one before, and after
#: relayed words they take them back (`_CONTRAST_EN`).
_UNTRUE_EN = frozenset("myth nonsense rubbish untrue".split())
_REJECTION_WORDS_EN = _UNTRUE_EN | frozenset(
    "mislead wrong false unrealistic marketing exaggeration lie scam salt nope nah".split()
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
    r"|do not really|do not change|" + "|".join(sorted(_UNTRUE_EN)) + ")"
)
_SENTENCE_END_EN = re.compile("[" + re.escape("".join(sorted(_SENTENCE_MARKS_EN))) + "]")


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


def _unsaid_after(texts: list[str], j: int) -> bool:
    """Whether `texts[j]` ("lie", "wrong", "misleading"...) after "be" calls untrue what an
    "if I said" or "to promise" a few words on says: "I'd be lying if I told you...", "it
    would be wrong of me to say...", "I'd be misleading you if I promised..."."""
    if "be" not in texts[max(0, j - 3) : j]:
        return False
    ahead = texts[j + 1 : j + 5]
    for k, word in enumerate(ahead):
        if word in _CLAUSE_MARKS:
            return False
        if word in ("if", "to"):
            return any(v in _SAYING_EN for v in ahead[k + 1 :] + texts[j + 5 : j + 7])
    return False


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
        elif word in _UNSAYABLE_EN and _unsaid_after(texts, j):
            frames.append(j)
        elif word in _GRANTING_EN and j > 0 and texts[j - 1] in ("i", "we"):
            rest = texts[j + 1 :]
            ends = next((k for k, t in enumerate(rest) if t in _SENTENCE_MARKS_EN), len(rest))
            if "but" in rest[:ends]:
                frames.append(j)
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
