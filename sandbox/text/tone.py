"""Tone: how courteous a trainee's message sounds, on a scale of -1 (hostile) to 1.

English uses TextBlob's sentiment polarity, as the format requires. Chinese uses a lexicon
of our own (see `docs/tone.md`): general Chinese sentiment models are trained on product
reviews and read 爱买不买 ("buy it or don't") as neutral, while customer service needs to
tell a curt or insulting agent from a courteous one.
"""

from __future__ import annotations

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
    """Forget the polarities kept (benchmarks and tests start cold with it)."""
    _POLARITY.clear()


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


def tone(text: str, locale: str) -> float:
    """The tone of one message in its pack's locale."""
    return english_polarity(text) if locale == "en" else chinese_tone(text)


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
