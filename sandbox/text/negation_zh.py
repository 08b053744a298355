"""The tables and small readers of Chinese negation v2 (docs/format-v2.md, "Negation"):
the negators, what does not negate (不超过, 不错), reporting and rejecting frames (有人说,
谁敢保证, 这个没法跟您打包票), and the sentence shapes that grant a claim only to take it back
(要不是…, 就算…也不…). `sandbox.text.negation.Negation` applies them; they are apart from it
so that each language's words can be read on their own.
"""

from __future__ import annotations

import re

from sandbox.text.matcher import Word

NEGATORS_ZH = frozenset(
    (
        "不 不会 不是 不用 不能 不要 不可 不可以 没 没有 无 无需 无法 别 未 毫无 并非 并不 并不会 "
        "绝不 绝不会 从不 从没 从未 没什么 不太 不太会 不怎么 不至于 没人 没有人 谁也不 谁都不 "
        "谁也 没办法 没法 不敢 不建议 不推荐 千万别 千万不要 避免 别再 不再 不宜 禁止 不得 "
        "不能够 不应该 不该 不必 甭 莫 勿 切勿 拒绝 暂停 做不到 达不到 给不了 保证不了 办不到 "
        "做不了 不可能 没法保证 不敢保证 不想 不愿 不愿意 不急着"
    ).split()
)

#: Before 要不, characters that make 要 a word of its own (只要, 需要, 主要, 想要, 还要…).
_NOT_SUGGESTING_ZH = frozenset("只需主想还就重必也都是")

#: Verbs the segmenter glues to a one-character negation (不吃, 没买过): the word negates.
_GLUED_VERBS_ZH = frozenset(
    "吃 买 用 喝 打 做 卖 发 寄 停 换 拿 开 给 送 涂 擦 抹 敷 碰 服 注射 服用 建议 推荐 需要 "
    "考虑 安排 下单 着急 担心 急".split()
)

_LONG_NEGATORS_ZH = tuple(sorted((w for w in NEGATORS_ZH if len(w) > 1), key=len, reverse=True))

_NOT_NEGATING_ZH = (
    "不超过",
    "不多于",
    "不少于",
    "不低于",
    "不高于",
    "不大于",
    "不小于",
    "不得超过",
    "不错",
    "不少",
    "不仅",
    "不但",
    "不管",
    "不过",
    "无论",
    "不止",
    "没错",
)

_REJECTED_AFTER_ZH = re.compile(
    "不可能|做不到|达不到|给不了|保证不了|办不到|不现实|不靠谱|没法保证|没办法保证|不存在|是假的|骗人的|"
    "忽悠|谁都给不了|谁也给不了|不敢保证|没人能保证|谁也保证不了"
)

_ANSWERS_NO_ZH = re.compile(
    r"(?:(?<=[？?])|(?<=吗[，,]))\s*(?:嗯|哎|唉)?[，,]?(?:说实话|老实说|实话说|坦白讲|坦白说)?[，,]?"
    r"(?:不能|不行|不一定|保证不了|到不了|没法保证|没办法保证|做不到|不敢保证|不好说)"
    r"(?:哈|哦|呢|啊|的|哟|呀|亲)*(?=[。！；.!;~，,…]|$)"
)

_REJECTION_CHARS_ZH = re.compile("[错假骗忽夸误信]")

_REJECTS_BEFORE_ZH = re.compile(
    # After a mark; or, mid-sentence, at a 这/那 that takes up the topic before it:
    # 看不出来这个没法跟您打包票 ("that it won't show, this I can't promise").
    r"(?:^|(?<=[。！？；.!?;，,~…])|(?<=[\u4e00-\u9fff])(?=[这那]))"
    r"(?:哈|嗯|嗯嗯|亲|但是|但|不过|其实|说实话|老实说|实话说)?[，,]?"
    r"(?:"
    r"(?:这|那)(?:个|种|些)?(?:说法|话|讲法|宣传|广告|说的)?(?:是|都是|其实是|可|真的|完全)?"
    r"(?:不对|错的|不准确|不靠谱|没有根据|没根据|假的|骗人的|忽悠人的|夸张了|夸大了|不可信|不真实"
    r"|不是真的|误导人的?|不科学)"
    r"|(?:这|那)(?:个|种|点|些)?(?:话|承诺)?(?:我们?|咱们?)?(?:也|可|真|实在|确实|真的)?"
    r"(?:不能|没法|没办法|不敢|不会|不好|不太好)(?:跟(?:您|你)|给(?:您|你))?"
    r"(?:说|讲|保证|承诺|打包票|打这个包票|担保|说死|下结论)(?:的|效果)?"
    r"|(?:这|那)(?:个|种|点)?(?:我们?)?(?:也|可|真|实在)?"
    r"(?:保证不了|打不了包票|担保不了|说不好|不好说|说不准)"
    r"|不是这样的|其实不是这样|并不是这样|别信|不要信|千万别信|可别信|这样不行|其实不是一回事"
    r"|我(?:们)?(?:真|可|也)?(?:不能|没法|没办法|不敢|不会)(?:打这个包票|打包票|保证|承诺|跟您保证|答应)"
    r"|(?:您|你)(?:也)?用不上|我?(?:就)?不给(?:您|你)推(?:荐)?了?|没必要买"
    # Self-corrections: 不对，我这么说等于打包票了; 我说错了; 更正一下.
    r"|(?:不对|不不)[，,]?我(?:这么|这样|刚才|刚刚)?说(?:得|的)?(?:不对|错了|不准确|太绝对了?"
    r"|等于(?:打包票|保证|承诺)了?)|我(?:刚才|刚刚)?说错了|更正一下|纠正一下|收回(?:刚才|这句)(?:的)?话?"
    r")(?:哈|哦|呢|啊|的|哟|呀|亲)*(?:[。！？；.!?;~，,…]|$)"
)

_ZH_NEGATION_CHARS = re.compile(f"[{''.join(sorted({w[0] for w in NEGATORS_ZH}))}]")

# A negation negated just before it: the two say the thing (不是说不会感染: it can get
# infected; 疤也不是完全没有; 不能说没有的情况是血管栓塞).
_DOUBLE_NEGATION_ZH = re.compile(
    r"(不是|不能说|并不是|也不是|不代表|不等于|并非)(说)?(完全|一点|绝对|一定|百分百)?$"
)

_CONDITION_NEGATIONS_ZH = frozenset({"没", "没有", "不", "未"})

_SCOPE_BREAK_ZH = frozenset(
    "而是 所以 因为 如果 要是 然后 而且 并且 可是 不过 然而 只是 改用 换成 建议 可以 的话".split()
)

# 、 lists things (不能保证永久、不留疤): unlike v1, it does not end a clause.
_CLAUSE_MARKS_ZH = frozenset(".,;:!?。，；：！？…~")

_SENTENCE_MARKS_ZH = frozenset(".;!?。；！？")

# A Chinese sentence a rejection can follow: a comma often joins two sentences in chat.
_REJECTED_SENTENCE_ENDS_ZH = frozenset(".;!?。；！？，,~…")

_CLAUSE_END_ZH = re.compile(
    "[" + re.escape("".join(sorted(_CLAUSE_MARKS_ZH))) + "]|所以|因为|但|而且|然后"
)

_REPORT_FRAMES_ZH = (
    "有人说",
    "别人说",
    "谁说",
    "谁跟您说",
    "谁跟你说",
    "谁保证",
    "谁和您说",
    "谁拍胸脯",
    "谁敢说",
    "谁敢保证",
    "谁要是说",
    "谁要跟您说",
    "别信",
    "不要信",
    "不要相信",
    "别相信",
    "别听",
    "不要听",
    "号称",
    "所谓的",
    "宣传说",
    "忽悠",
)

# Someone else's words: "有的地方可能会跟你说问题不大", "别家承诺...", "网上都说...".
_REPORTED_BY_ZH = re.compile(
    r"(?:有的|有些|别的|其他|外面的?|个别)"
    r"(?:地方|机构|医院|诊所|店|店家|商家|人|医生|平台|客服|药店|网店|同行|咨询师|销售|美容院)"
    r"[^，,。！？!?；;]{0,6}?(?:说|讲|宣传|承诺|保证|吹|让|教|叫|拿)"
    # 说保证效果的都是不合规的: what is said, then called a breach or a sales line
    r"|说(?=[^，,。！？!?；;]{1,14}?的(?:都|也)?(?:是|属于)"
    r"(?:不合规|违规|广告|营销|骗人|忽悠|瞎说|假|话术|夸大|不靠谱))"
    r"|(?:有人|有的人|有些人)会(?:说|自己)|(?:有的|有些)(?:平台|店|商家|网店|药店)先"
    # 外面可能有地方会跟你说..., 有机构会承诺...
    r"|有(?:地方|机构|店家|商家|平台|医院|诊所)[^，,。！？!?；;]{0,6}?(?:说|讲|宣传|承诺|保证|吹)"
    # beliefs of others, and the customer's own words quoted back: 好多人觉得..., 您刚说...
    r"|(?:有人|有的人|有些人|好多人|很多人|不少人|大家)(?:会|都|可能)?(?:觉得|以为|认为)"
    r"|(?:您|你)(?:刚才?|之前|前面)说"
    # 您说别家不用处方就能买，这个在我们平台是不行的, to the end of its clause only (not 您说得对,
    # 您说的那款, 您说呢, 您说一下)
    r"|(?:您|你)说(?![得的呢吧一下说])"
    r"|(?:别家|人家|网上|广告)[^，,。！？!?；;]{0,6}?(?:说|讲|宣传|承诺|保证|吹)"
)

# Claims a sentence does not make in Chinese: the clause after a counterfactual condition
# (要不是您在吃华法林，布洛芬是可以吃的), and what "others" may do when the sentence then
# tells the customer they may not (一般人可以吃，但您吃着华法林就不行).
_COUNTERFACTUAL_ZH = re.compile(r"(?:要不是|若不是)[^。！？!?；;，,]*[，,]([^，,。！？!?；;]+)")

_OTHERS_BUT_NOT_YOU_ZH = re.compile(
    r"(?:一般人|正常人|普通人|别人|其他人|别的人|大部分人|多数人|一般的人)"
    r"[^。！？!?；;]*?(?=(?:但是|但|不过|可是)是?(?:您|你|咱|阿姨|叔叔)"
    r"[^，,。！？!?；;]{0,12}?(?:不行|不能|不可以|不适合|不建议|别|不要|不宜|慎用))"
)

# What a sentence grants only to take back: "要是叔叔血压正常，那款胶囊还能考虑；可他..." (a
# condition's consequence that a 可/但 clause then denies), and what "even if" concedes
# before refusing: "就算您把验证码报给我，我也不能替她查".
_CONDITION_THEN_BUT_ZH = re.compile(
    r"(?:要是|如果|假如|假设|倘若)[^，,。；;！？!?]*[，,]([^，,。；;！？!?]+)[，,；;]\s*"
    r"(?=可是|可(?!以|能)|但是|但|不过)"
)

_EVEN_IF_ZH = re.compile(
    r"(?:就算|即使|哪怕|即便)[^。！？!?；;]*(?=[，,][^，,。！？!?；;]*?也(?:不|没|别))"
)

# A list of claims that the next clause refuses: "保证一样、永久、不留疤，这三样我都不能答应".
_LIST_THEN_REFUSED_ZH = re.compile(
    r"[^，,。；;！？!?]+(?=[，,]\s*(?:这|那)(?:(?:两|三|四|几)(?:样|种|个|点|条)|些)"
    r"[^，,。；;！？!?]{0,8}?(?:不能|没法|没办法|做不到|不会|答应不了|给不了|不敢))"
)

# A wish to say something that the sentence's 但 takes back: 我也很想跟您说明天一定到，但是...
_WISH_BUT_ZH = re.compile(
    r"(?:想|希望|巴不得)(?:能|可以)?(?:跟您|跟你|和您|和你|给您)?(?:说|保证|承诺|打包票)"
    r"[^。！？!?；;]*?(?=[，,]?(?:但是|但|不过|可是))"
)

# A turn after a reported claim: what follows is the speaker's own again.
_TURNS_ZH = re.compile("其实|实际上|但是|但|不过|可是")

_CONTRAST_ZH = re.compile("其实|实际上|没那么|没有那么|夸张")

_SENTENCE_END_ZH = re.compile("[" + re.escape("".join(sorted(_SENTENCE_MARKS_ZH))) + "]")


def _a_not_a_zh(text: str, at: int) -> Word | None:
    """An occurrence that starts at the 不/没 of an A-not-A question asks rather than says:
    有没有疤 holds 没有疤, 会不会留疤 holds 不会留疤, and neither promises anything."""
    if 0 < at < len(text) - 1 and text[at] in "不没":
        before = text[at - 1]
        if before == text[at + 1] and before not in "不没":
            return Word(at - 1, at + 2, text[at - 1 : at + 2])
    return None


def _unreal_spans_zh(text: str) -> list[tuple[int, int, Word]]:
    """Where a Chinese sentence names a claim without making it, and the words that say so:
    a counterfactual's or a taken-back condition's consequence, what "even if" concedes, a
    list refused as a group, a wish a 但 takes back, what "others" may do but not you."""
    spans: list[tuple[int, int, Word]] = []

    def head(start: int, size: int) -> Word:
        return Word(start, start + size, text[start : start + size])

    for found in _COUNTERFACTUAL_ZH.finditer(text):
        spans.append((found.start(1), found.end(1), head(found.start(), 3)))
    for found in _CONDITION_THEN_BUT_ZH.finditer(text):
        spans.append((found.start(1), found.end(1), head(found.start(), 2)))
    for pattern in (_EVEN_IF_ZH, _LIST_THEN_REFUSED_ZH):
        for found in pattern.finditer(text):
            spans.append((found.start(), found.end(), head(found.start(), 2)))
    for found in _WISH_BUT_ZH.finditer(text):
        spans.append((found.start(), found.end(), head(found.start(), 1)))
    for found in _OTHERS_BUT_NOT_YOU_ZH.finditer(text):
        spans.append((found.start(), found.end(), head(found.start(), len(found.group(0)[:3]))))
    return spans
