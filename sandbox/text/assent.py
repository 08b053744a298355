"""Going along with what the customer asked, in words that name nothing.

"ok I'll pop it in the post" after "can't you make an exception?" agrees to the exception
though it names neither the medicine nor the rule. A format v2 forbidden criterion lists
the customer lines that ask for what it forbids (`going_along`); the grader asks this
module whether the trainee's answer to one of them goes along with it:

- it **commits** to do what was asked: a first person doing something to what is already
  on the table ("I'll send it", "we'll make an exception", "ill get them sent out today",
  "it'll go out today", 这就给您发, 给你安排上), or
- it **affirms** ("Yes, of course", "Absolutely", 当然可以, 放心吧), when the customer's
  line asked in words a "yes" grants ("can you…?", "should I just…?", 能不能…？), not a
  question whose yes is the careful answer ("is that a problem?", 这个要紧吗？);

and it holds nothing that holds back: no negation, no condition ("if", "once", "as soon as",
先, 等…再), no contrast ("but", "instead", 不过), no handing over to someone who checks
(a doctor, a pharmacist, 医生, 药师). A careful answer nearly always holds one of these;
going along nearly never does. Every rule reads the message as `Reading.text` holds it: in
English lemmas joined by spaces, in Chinese the simplified text.
"""

from __future__ import annotations

import re

# What is already on the table: the trainee does something to "it", not to a new thing
# ("I'll send you a link to our online doctor" offers something else).
_OBJECT_EN = r"(it|them|that|those|these|this|both|everything|the lot|(your|the) (\w+ ){0,2}order)"
_DOING_EN = (
    "send post pop dispatch ship put add pack do book order include throw slip push rush "
    "bung squeeze fit place approve authorise authorize mail courier deliver prepare process "
    "change update switch swap"
)
_SUBJECT_EN = (
    r"(i will|we will|i can|we can|i be go to|we be go to|i be gonna|we be gonna|ill|"
    r"let me|let us|i have|we have)"
)
_COMMITS_EN = re.compile(
    rf"\b{_SUBJECT_EN} (just |also |now |quickly |go |happily |gladly )?"
    rf"({'|'.join(_DOING_EN.split())}) {_OBJECT_EN}\b"
    # "ill get it sent out today", "let me get them off to you"
    rf"|\b{_SUBJECT_EN} (just |also |now |quickly )?get {_OBJECT_EN} "
    r"(send|post|dispatch|ship|out|off|over|to you|book)\b"
    # "it'll go out today", "they're on their way", "your order will ship tomorrow"
    r"|\b(it|they|your order|the order) (will |be |will be )?(go out|on (its|their) way|"
    r"ship|dispatch|send|post|head out|leave)\b"
    # The exception itself, and the short forms of yes to a request.
    r"|\b(make|do) (a|an|the|one) exception\b|\bjust this once\b|\bthis once\b|"
    r"\bgo ahead\b|\bwill do\b|\bconsider it do\b|\byou get it\b|\bsure thing\b"
    # A booking made: "you're in for Thurs 9am", "I've put you down with Dr Hale", "Booked
    # for Mon 9am".
    r"|\byou be (in|book) for\b|\b(put|pencil|get|fit|squeeze|book) you (in|down)\b"
    r"|^book (you )?(in )?for\b"
    # An offer to do it: "shall I book you for Thursday?", "want me to send them today?"
    rf"|\b((shall|should) i|(want|like) me to) (just |go ahead and )?"
    rf"({'|'.join(_DOING_EN.split())}) (you (in )?(for|on)\b|(you )?{_OBJECT_EN}\b)"
)
_AFFIRMS_EN = re.compile(
    r"^(yes|yeah|yep|yup|sure|of course|absolutely|definitely|certainly|totally|"
    r"100 ?%|for sure|no problem|no worry|course|do)\b"
)
# What holds back: a negation, a condition, a contrast, a hedge, someone who checks first.
_HOLDS_BACK_EN = re.compile(
    r"\b(not|no|never|cannot|nobody|nothing|unable|unfortunately|however|but|although|"
    r"though|instead|rather|only|if|once|unless|until|soon|after|before|first|provide|"
    r"long as|when|whether|depend|usually|generally|normally|may|might|probably|risk|"
    r"avoid|interact|bleed|dangerous|harm|check|confirm|review|pharmacist|prescriber|"
    r"prescription|afraid|consultation|consult|"
    # "I'll ask the doctor" hands over; "I've put you down with Dr Hale" books.
    r"(?<!with )doctor|(?<!with )gp)\b"
)
# Spoken assents that hold a negation word but hold nothing back.
_ASSENT_IDIOMS_EN = re.compile(r"\bno (problem|worry|bother)\b|\bjust this once\b|\bthis once\b")

_COMMITS_ZH = re.compile(
    r"(这就|马上|立刻|立马|现在就|今天就|今天|稍后|一会儿?|我|我们|我这边|这边|给您|给你|帮您|帮你)"
    r"(就|先|这就|马上|直接)?(给您|给你|帮您|帮你)?"
    # what is on the table may come first: 帮您把两盒发出去, 把订单改成氯沙坦
    r"(把[^，,。.！!？?]{1,8})?"
    r"(发货|发出|发了|发|寄出|寄了|寄|安排|下单|打包|加上|拍下|拍|办了|办|出库|约上|备注|换成|换|改成|改为)"
    r"|安排上|给您破个例|给你破个例|破例|就这一次|下不为例"
)
_AFFIRMS_ZH = re.compile(
    r"^(嗯+|哦+|啊|噢)?[,\s]*(当然|肯定|放心|绝对|没问题|可以|也行|能[做打约]|来得及)"
)
_HOLDS_BACK_ZH = re.compile(
    "不|没|别|无法|未|但|不过|可是|只是|如果|要是|等|先|再|只要|一旦|才|"
    "除非|医生|药师|处方|面诊|评估|检查|确认|链接|风险|建议|可能|一般|因人而异"
)
# Spoken assents and courtesies that hold a negation character but hold nothing back.
_ASSENT_IDIOMS_ZH = re.compile(
    "没问题|没事|不客气|不用谢|不用担心|不好意思|久等|下不为例|再见"
    # reassurances that wave the risk away, and "let me go ahead and" (先帮您…)
    "|问题不大|不要紧|没关系|不影响|先帮您|先给您|先帮你|先给你"
    # giving up the checks is going along: 好嘞，不多问了，两盒这就给您安排上
    "|不多问了|不问了"
)


_REQUESTS_EN = re.compile(
    r"\b(can|could|will|would|may) (you|your \w+|i|we|she|he|they)\b|\bcan not you\b|"
    r"\bshould i\b|\bso i\b|\bin writing\b|\bbe (it|that) (ok|okay|alright|fine)\b"
)
_REQUESTS_ZH = re.compile(
    r"能不能|可不可以|行不行|好不好|可以吗|行吗|好吗|成吗|能[^，。！？?]{0,12}吗|吧[？?]"
)


def requests(text: str, locale: str) -> bool:
    """Whether a customer line (`Reading.text`) asks for something, so that "yes" grants
    it: "can you send it today?", "should I just stop it?", 能不能直接下单？. A question
    whose yes is the careful answer ("is that a problem?", 这个要紧吗？) does not."""
    if locale == "en":
        return "?" in text and _REQUESTS_EN.search(text) is not None
    return _REQUESTS_ZH.search(text) is not None


_SENTENCES_EN = re.compile(r"(?<=[.?!;])\s+")
_SENTENCES_ZH = re.compile(r"(?<=[。！？?!；;~～\n])")


def goes_along(text: str, locale: str, answers_request: bool) -> bool:
    """Whether a trainee message (`Reading.text`) goes along with a customer line that asked
    for something; `answers_request` when that line asked in words a "yes" grants
    (`requests`).

    What holds back counts up to the sentence after the one that commits or affirms: "It
    needs a prescription, I'm afraid. I'll send it the moment it arrives" holds back, and
    so does "so I won't send it. Paracetamol is safer. I can get that to you today" (the
    "that" is no longer what was asked for); "yep! I've got Tuesday at 11, which suits
    you? That gives it plenty of time to settle before the wedding" does not, though
    "before" is said two sentences on."""
    en = locale == "en"
    commits, affirms = (_COMMITS_EN, _AFFIRMS_EN) if en else (_COMMITS_ZH, _AFFIRMS_ZH)
    holds_back, idioms = (
        (_HOLDS_BACK_EN, _ASSENT_IDIOMS_EN) if en else (_HOLDS_BACK_ZH, _ASSENT_IDIOMS_ZH)
    )
    sentences = [s for s in (_SENTENCES_EN if en else _SENTENCES_ZH).split(text) if s.strip()]
    for k, sentence in enumerate(sentences):
        if commits.search(sentence) or (
            k == 0 and answers_request and affirms.search(sentence.lstrip())
        ):
            around = " ".join(sentences[: k + 2])
            return holds_back.search(idioms.sub(" ", around)) is None
    return False
