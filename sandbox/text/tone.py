"""Tone: how courteous a trainee's message sounds, on a scale of -1 (hostile) to 1.

English uses TextBlob's sentiment polarity, as the format requires. Chinese uses a lexicon
of our own (see `docs/tone.md`): general Chinese sentiment models are trained on product
reviews and read 爱买不买 ("buy it or don't") as neutral, while customer service needs to
tell a curt or insulting agent from a courteous one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

from sandbox.text.matcher import normalize

#: Default `min` of `check: tone` in both locales: mildly negative is still courteous.
DEFAULT_MIN = -0.3


#: The polarity of English messages seen lately, by text: a regrade asks again for the same
#: messages. A plain dict, bounded (when full it starts again): on new messages it costs
#: less than `functools.lru_cache`, whose bookkeeping was 7% of grading a new transcript.
_POLARITY: dict[str, float] = {}
_POLARITY_KEPT = 65536
#: `sandbox.text.polarity.polarity`, once the first English message has imported it: an
#: import statement per message cost 2% of grading a new transcript.
_polarity: Callable[[str], float] | None = None


def english_polarity(text: str) -> float:
    """TextBlob's sentiment polarity of `text`, computed by `polarity` (memoised).

    `polarity` returns exactly TextBlob's float at a tenth of the cost; it is imported on
    first use so that loading TextBlob's lexicon waits for the first English message.
    """
    global _polarity
    known = _POLARITY.get(text)
    if known is not None:
        return known
    if _polarity is None:
        from sandbox.text.polarity import polarity

        _polarity = polarity
    if len(_POLARITY) >= _POLARITY_KEPT:
        _POLARITY.clear()
    value = _POLARITY[text] = _polarity(text)
    return value


def clear_memo() -> None:
    """Forget the polarities and tones kept (benchmarks and tests start cold with it)."""
    _POLARITY.clear()
    _SERVICE_TONE.clear()


# Weights are on TextBlob's scale so one `min` reads the same in both languages. Hostile
# expressions weigh more than polite ones: one insult outweighs a polite word.
CHINESE_HOSTILE: dict[str, float] = {
    "爱买不买": -0.9,
    "你是不是傻": -1.0,
    "是不是傻": -1.0,
    "傻": -0.8,
    "笨": -0.7,
    "蠢": -0.9,
    "白痴": -1.0,
    "神经病": -1.0,
    "有病": -0.8,
    "脑子": -0.6,
    "滚": -1.0,
    "闭嘴": -0.9,
    "烦不烦": -0.8,
    "烦死了": -0.8,
    "你烦": -0.7,
    "别烦": -0.7,
    "少废话": -0.8,
    "废话": -0.6,
    "关我什么事": -0.9,
    "关我屁事": -1.0,
    "不关我的事": -0.7,
    "自己看": -0.6,
    "自己查": -0.6,
    "自己去看": -0.6,
    "看不懂吗": -0.8,
    "听不懂吗": -0.8,
    "说了多少遍": -0.7,
    "没空": -0.5,
    "随便你": -0.7,
    "爱用不用": -0.9,
    "爱要不要": -0.9,
    "不买就算了": -0.8,
    "你自己的问题": -0.8,
    "你的问题": -0.5,
    "活该": -1.0,
    "怪你自己": -0.9,
    "不是我们的问题": -0.6,
    "别问了": -0.7,
    "懒得": -0.6,
    "什么玩意": -0.9,
    "有完没完": -0.9,
    "急什么": -0.6,
    "催什么": -0.6,
    "凭什么": -0.4,
    "去死": -1.0,
}
CHINESE_POLITE: dict[str, float] = {
    "您": 0.15,
    "请": 0.15,
    "谢谢": 0.3,
    "感谢": 0.3,
    "抱歉": 0.3,
    "不好意思": 0.3,
    "对不起": 0.3,
    "让您久等": 0.4,
    "久等了": 0.3,
    "理解您": 0.3,
    "辛苦": 0.2,
    "麻烦您": 0.2,
    "很高兴": 0.3,
    "欢迎": 0.2,
    "祝您": 0.3,
    "您好": 0.2,
    "放心": 0.1,
    "为您": 0.15,
    "帮您": 0.15,
    "请问": 0.1,
}

_LEXICON = sorted({**CHINESE_POLITE, **CHINESE_HOSTILE}.items(), key=lambda kv: -len(kv[0]))


def chinese_tone(text: str) -> float:
    """The lexicon score of one Chinese message, clamped to [-1, 1].

    Every occurrence of a listed expression adds its weight; a longer expression hides the
    shorter ones inside it (您好 counts once, not also as 您).
    """
    normal = normalize(text)
    score = 0.0
    covered = [False] * len(normal)
    for phrase, weight in _LEXICON:
        start = normal.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            if not any(covered[start:end]):
                score += weight
                for i in range(start, end):
                    covered[i] = True
            start = normal.find(phrase, start + 1)
    return max(-1.0, min(1.0, score))


#: Format v2, English: words TextBlob scores as negative that a courteous agent says all
#: day: apologies and regret ("I'm so sorry", "I'm afraid", "unfortunately"), sympathy with
#: the customer's trouble ("that's awful", "gardening injuries are the worst", "what a
#: hassle") and the plain words of a warning ("if it gets worse", "ever reacted badly",
#: "a serious risk"). TextBlob puts "Hi, sorry to hear that" at -0.5, below the default
#: `min`; an agent who apologises twice and warns once would fail a tone check.
SERVICE_NEUTRAL_EN: frozenset[str] = frozenset(
    """sorry afraid unfortunately unfortunate apologise apologize apologies regret regrettably
    awful terrible horrible worst bad badly annoying frustrating frustrated upsetting upset
    hassle disappointing disappointed shame stressful scary worrying worried difficult hard
    tough painful sore ill sick unwell worse serious seriously dangerous harmful wrong risky
    nasty heavy severe""".split()
)
#: Format v2, English: curt or hostile service phrases TextBlob reads as neutral, on its
#: scale (as `CHINESE_HOSTILE`): "not my problem", "that's your own fault".
ENGLISH_HOSTILE: dict[str, float] = {
    "not my problem": -0.9,
    "your problem": -0.7,
    "not my job": -0.8,
    "not our problem": -0.8,
    "your own fault": -0.9,
    "i already told you": -0.6,
    "i told you already": -0.6,
    "how many times": -0.6,
    "i don't care": -0.8,
    "i dont care": -0.8,
    "stop wasting my time": -1.0,
    "take it or leave it": -0.8,
}
#: ... and orders that are curt only as orders, at the start of a sentence or clause or
#: after "just": "Deal with it." (not "permission for you to deal with it").
ENGLISH_HOSTILE_ORDERS: dict[str, float] = {
    "deal with it": -0.8,
    "get over it": -0.8,
    "calm down": -0.5,
    "shut up": -1.0,
    "whatever": -0.5,
    "google it": -0.7,
    "read the label": -0.5,
    "read the leaflet": -0.5,
    "go somewhere else": -0.7,
    "stop asking": -0.7,
}


def _alternation(phrases: dict[str, float]) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


_ENGLISH_HOSTILE = re.compile(
    rf"\b({_alternation(ENGLISH_HOSTILE)})\b"
    rf"|(?:^|[.!?,;:]\s*|\bjust\s+|\boh\s+)({_alternation(ENGLISH_HOSTILE_ORDERS)})\b"
)


#: A word of every hostile phrase: a message without one of them holds none, and looking for
#: these few costs less than normalising it and trying every phrase
#: (`tests/test_service_tone.py` checks that each phrase holds one).
HOSTILE_KEYS = (
    "problem", "job", "fault", "told", "times", "care", "wasting", "leave", "deal", "over it",
    "calm", "shut", "whatever", "google", "label", "leaflet", "somewhere", "asking",
)  # fmt: skip
_HOSTILE_KEYS = re.compile("|".join(HOSTILE_KEYS))
#: The v2 tones of English messages seen lately, by text (as `_POLARITY`: a regrade asks
#: again for the same messages).
_SERVICE_TONE: dict[str, float] = {}
#: `sandbox.text.polarity.polarity_without`, imported on first use (as `_polarity`).
_polarity_without: Callable[[str, frozenset[str]], float] | None = None


def service_tone_en(text: str) -> float:
    """Format v2's English tone: TextBlob's polarity with `SERVICE_NEUTRAL_EN` scoring
    nothing, or the weight of a curt phrase (`ENGLISH_HOSTILE`, `ENGLISH_HOSTILE_ORDERS`)
    when one is lower (memoised)."""
    known = _SERVICE_TONE.get(text)
    if known is not None:
        return known
    global _polarity_without
    if _polarity_without is None:
        from sandbox.text.polarity import polarity_without

        _polarity_without = polarity_without
    score = _polarity_without(text, SERVICE_NEUTRAL_EN)
    lowered = text.lower()
    if _HOSTILE_KEYS.search(lowered) is not None:
        lowered = normalize(text).replace("\u2019", "'")
        for m in _ENGLISH_HOSTILE.finditer(lowered):
            phrase = m.group(1)
            weight = ENGLISH_HOSTILE[phrase] if phrase else ENGLISH_HOSTILE_ORDERS[m.group(2)]
            score = min(score, weight)
    if len(_SERVICE_TONE) >= _POLARITY_KEPT:
        _SERVICE_TONE.clear()
    _SERVICE_TONE[text] = score
    return score


def tone(text: str, locale: str, v2: bool = False) -> float:
    """The tone of one message in its pack's locale; `v2` reads English as format v2 does
    (`service_tone_en`), and Chinese the same in both formats."""
    if locale != "en":
        return chinese_tone(text)
    return service_tone_en(text) if v2 else english_polarity(text)


def is_shouting(text: str) -> bool:
    """`!!!`, or at least 4 cased letters of which more than half are capitals."""
    if "!!!" in text.replace("！", "!"):
        return True
    if text.isascii():
        # The same counts in C: an ASCII character is a capital (str.isupper) exactly when it
        # is one of A-Z, and lower case exactly when it is one of a-z.
        data = text.encode("ascii")
        upper = len(data) - len(data.translate(None, _ASCII_UPPER))
        if upper < 3:
            return False
        cased = upper + len(data) - len(data.translate(None, _ASCII_LOWER))
        return cased >= 4 and upper * 2 > cased
    upper = sum(map(str.isupper, text))
    if upper < 3:  # more than half of at least 4 cased letters is at least 3 capitals
        return False
    cased = upper + sum(map(str.islower, text))
    return cased >= 4 and upper * 2 > cased


_ASCII_UPPER = string.ascii_uppercase.encode("ascii")
_ASCII_LOWER = string.ascii_lowercase.encode("ascii")
