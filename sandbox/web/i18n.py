"""Interface text in English and Simplified Chinese: a plain catalogue, no compiled files."""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_LOCALE = "en"
LOCALES = {"en": "English", "zh-CN": "简体中文"}

Translate = Callable[..., str]

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "app.name": "Sandbox",
        "app.tagline": "Practise customer conversations where a careless sentence hurts.",
        "nav.skip": "Skip to content",
        "nav.catalogue": "Scenarios",
        "nav.history": "My progress",
        "nav.logout": "Log out",
        "nav.login": "Log in",
        "nav.signed_in_as": "Signed in as {name}",
        "lang.label": "Language",
        "lang.apply": "Change",
        "login.title": "Log in",
        "login.name": "User name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.failed": "That user name and password do not match.",
        "login.required": "Enter your user name and password.",
        "login.logged_out": "You have logged out.",
        "login.too_many": "Too many failed logins. Wait {minutes} min before trying again.",
        "login.demo": "Demo logins of this trial installation:",
        "csrf.failed": "This form had expired. Please try again.",
        "catalogue.title": "Scenarios",
        "catalogue.filters": "Filter scenarios",
        "catalogue.pack": "Training pack",
        "catalogue.trade": "Trade",
        "trade.pharmacy": "Online pharmacy",
        "trade.aesthetics": "Medical aesthetics",
        "trade.other": "Other",
        "catalogue.language": "Conversation language",
        "catalogue.difficulty": "Difficulty",
        "catalogue.any": "Any",
        "catalogue.apply": "Show",
        "catalogue.empty": "No scenario matches these filters.",
        "catalogue.best": "Your best: {score}",
        "catalogue.not_tried": "Not tried yet",
        "catalogue.open": "Open brief",
        "catalogue.count": "{count} scenarios",
        "catalogue.pack_errors": "Packs that could not be loaded (admins only)",
        "difficulty.easy": "Easy",
        "difficulty.medium": "Medium",
        "difficulty.hard": "Hard",
        "brief.title": "Brief",
        "brief.persona": "Customer",
        "brief.time_limit": "Time limit: {minutes} min",
        "brief.start": "Start practice",
        "brief.resume": "Resume your conversation",
        "brief.back": "Back to scenarios",
        "chat.title": "Conversation",
        "chat.messages": "Conversation with {name}",
        "chat.you": "You",
        "chat.input": "Your message",
        "chat.input_hint": "Up to {limit} characters. Enter sends; Shift+Enter starts a new line.",
        "chat.send": "Send",
        "chat.finish": "Finish",
        "chat.finish_confirm": "End this conversation and see your feedback?",
        "chat.hint": "Show a hint",
        "chat.hints_title": "Not yet covered",
        "chat.hints_none": "You have covered everything the rubric asks for so far.",
        "chat.typing": "{name} is typing…",
        "chat.time_left": "Time left",
        "chat.connecting": "Connecting…",
        "chat.connected": "Connected",
        "chat.reconnecting": "Connection lost, reconnecting…",
        "chat.needs_js": "The live chat needs JavaScript turned on.",
        "chat.no_scripts": "The chat's script files are missing on the server (run scripts/setup).",
        "chat.ended": "The conversation has ended.",
        "chat.see_feedback": "See your feedback",
        "chat.notice.empty": "Your message is empty; nothing was sent.",
        "chat.notice.too_long": "Your message is {length} characters; the limit is {limit}. Shorten it and send again.",
        "chat.notice.malformed": "The browser sent something the chat did not understand; please send your message again.",
        "chat.notice.ended": "This conversation has ended; your message was not sent.",
        "chat.notice.unknown_scenario": "This scenario is no longer available.",
        "chat.notice.no_hints": "Hints are for practice only.",
        "chat.notice.too_fast": "You are sending faster than anyone can type; this was not sent. Wait a moment and send again.",
        "end.finished": "You finished the conversation.",
        "end.timeout": "Time ran out.",
        "end.completed": "The customer ended the conversation.",
        "end.superseded": "The scenario was updated while this practice was open; it was closed without a grade.",
        "feedback.title": "Feedback",
        "feedback.score": "Score",
        "feedback.band": "Band",
        "feedback.passed": "Passed",
        "feedback.failed": "Not passed",
        "feedback.criteria": "Criteria",
        "feedback.transcript": "Transcript",
        "feedback.unrevealed": "Facts you never uncovered",
        "feedback.unrevealed_none": "You uncovered every fact.",
        "feedback.try_again": "Try again",
        "feedback.not_graded": "This conversation is still open.",
        "feedback.evidence": "message #{n}",
        "feedback.critical": "critical",
        "feedback.penalty": "penalty {penalty}",
        "feedback.weight": "weight {weight}",
        "feedback.end_reason": "How it ended",
        "status.met": "Met",
        "status.missed": "Missed",
        "status.not_applicable": "Not applicable",
        "status.clear": "Avoided",
        "status.violated": "Broken",
        "band.excellent": "Excellent",
        "band.good": "Good",
        "band.pass": "Pass",
        "band.fail": "Fail",
        "history.title": "My progress",
        "history.chart": "Scores over time",
        "history.chart_desc": "Each point is one graded conversation; the line at {mark} is the usual pass mark.",
        "history.empty": "No graded conversations yet. Pick a scenario to start.",
        "history.scenario": "Scenario",
        "history.best": "Best",
        "history.latest": "Latest",
        "history.attempts": "Attempts",
        "history.view": "View feedback",
        "error.title": "Something is not right",
        "error.404": "There is nothing at this address.",
        "error.403": "You are not allowed to see this page.",
        "error.400": "The request could not be understood.",
        "error.500": "Something went wrong on our side. Please try again.",
        "error.home": "Back to the scenarios",
        "role.trainee": "Trainee",
        "role.mentor": "Mentor",
        "role.proctor": "Proctor",
        "role.admin": "Admin",
    },
    "zh-CN": {
        "app.name": "沙盘",
        "app.tagline": "练习那些一句话说错就可能伤人的客户对话。",
        "nav.skip": "跳到正文",
        "nav.catalogue": "情景",
        "nav.history": "我的进度",
        "nav.logout": "退出",
        "nav.login": "登录",
        "nav.signed_in_as": "当前用户：{name}",
        "lang.label": "语言",
        "lang.apply": "切换",
        "login.title": "登录",
        "login.name": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.failed": "用户名和密码不匹配。",
        "login.required": "请输入用户名和密码。",
        "login.logged_out": "您已退出。",
        "login.too_many": "登录失败次数过多。请等待 {minutes} 分钟后再试。",
        "login.demo": "本试用安装的演示账号：",
        "csrf.failed": "表单已过期，请重试。",
        "catalogue.title": "情景",
        "catalogue.filters": "筛选情景",
        "catalogue.pack": "培训包",
        "catalogue.trade": "行业",
        "trade.pharmacy": "医药电商",
        "trade.aesthetics": "医美咨询",
        "trade.other": "其他",
        "catalogue.language": "对话语言",
        "catalogue.difficulty": "难度",
        "catalogue.any": "全部",
        "catalogue.apply": "显示",
        "catalogue.empty": "没有符合条件的情景。",
        "catalogue.best": "最好成绩：{score}",
        "catalogue.not_tried": "尚未练习",
        "catalogue.open": "查看说明",
        "catalogue.count": "共 {count} 个情景",
        "catalogue.pack_errors": "未能加载的培训包（仅管理员可见）",
        "difficulty.easy": "简单",
        "difficulty.medium": "中等",
        "difficulty.hard": "困难",
        "brief.title": "情景说明",
        "brief.persona": "客户",
        "brief.time_limit": "时限：{minutes} 分钟",
        "brief.start": "开始练习",
        "brief.resume": "继续上次的对话",
        "brief.back": "返回情景列表",
        "chat.title": "对话",
        "chat.messages": "与{name}的对话",
        "chat.you": "我",
        "chat.input": "您的消息",
        "chat.input_hint": "最多 {limit} 个字符。按 Enter 发送，Shift+Enter 换行。",
        "chat.send": "发送",
        "chat.finish": "结束",
        "chat.finish_confirm": "结束本次对话并查看反馈吗？",
        "chat.hint": "显示提示",
        "chat.hints_title": "尚未做到",
        "chat.hints_none": "到目前为止，评分标准要求的都已做到。",
        "chat.typing": "{name}正在输入…",
        "chat.time_left": "剩余时间",
        "chat.connecting": "正在连接…",
        "chat.connected": "已连接",
        "chat.reconnecting": "连接中断，正在重新连接…",
        "chat.needs_js": "实时对话需要开启 JavaScript。",
        "chat.no_scripts": "服务器缺少聊天所需的脚本文件（请运行 scripts/setup）。",
        "chat.ended": "对话已结束。",
        "chat.see_feedback": "查看反馈",
        "chat.notice.empty": "消息为空，未发送。",
        "chat.notice.too_long": "您的消息有 {length} 个字符，上限为 {limit}。请缩短后再发送。",
        "chat.notice.malformed": "浏览器发送的内容无法识别，请重新发送您的消息。",
        "chat.notice.ended": "对话已结束，您的消息未发送。",
        "chat.notice.unknown_scenario": "该情景已不可用。",
        "chat.notice.no_hints": "只有练习模式才有提示。",
        "chat.notice.too_fast": "发送过于频繁，本条未发送。请稍等片刻再发送。",
        "end.finished": "您结束了对话。",
        "end.timeout": "时间到了。",
        "end.completed": "客户结束了对话。",
        "end.superseded": "练习期间情景已更新，本次练习未评分即关闭。",
        "feedback.title": "反馈",
        "feedback.score": "得分",
        "feedback.band": "等级",
        "feedback.passed": "通过",
        "feedback.failed": "未通过",
        "feedback.criteria": "评分项",
        "feedback.transcript": "对话记录",
        "feedback.unrevealed": "您没有问出的信息",
        "feedback.unrevealed_none": "所有信息都已问出。",
        "feedback.try_again": "再练一次",
        "feedback.not_graded": "这次对话尚未结束。",
        "feedback.evidence": "第 {n} 条消息",
        "feedback.critical": "关键项",
        "feedback.penalty": "扣 {penalty} 分",
        "feedback.weight": "权重 {weight}",
        "feedback.end_reason": "结束方式",
        "status.met": "做到",
        "status.missed": "未做到",
        "status.not_applicable": "不适用",
        "status.clear": "未违反",
        "status.violated": "违反",
        "band.excellent": "优秀",
        "band.good": "良好",
        "band.pass": "及格",
        "band.fail": "不及格",
        "history.title": "我的进度",
        "history.chart": "历次得分",
        "history.chart_desc": "每个点是一次已评分的对话；{mark} 分处的线是通常的及格线。",
        "history.empty": "还没有已评分的对话。选一个情景开始吧。",
        "history.scenario": "情景",
        "history.best": "最好",
        "history.latest": "最近",
        "history.attempts": "次数",
        "history.view": "查看反馈",
        "error.title": "出了点问题",
        "error.404": "这个地址没有内容。",
        "error.403": "您无权查看此页面。",
        "error.400": "无法理解该请求。",
        "error.500": "服务器出错了，请重试。",
        "error.home": "返回情景列表",
        "role.trainee": "学员",
        "role.mentor": "导师",
        "role.proctor": "监考",
        "role.admin": "管理员",
    },
}


def normalise_locale(value: str | None) -> str | None:
    """The supported locale `value` names (`zh`, `zh-cn`, `zh_CN` all give zh-CN), or None."""
    if not value:
        return None
    lowered = value.strip().replace("_", "-").lower()
    for locale in LOCALES:
        if lowered == locale.lower():
            return locale
    primary = lowered.split("-")[0]
    if primary == "zh" and lowered not in ("zh-tw", "zh-hk", "zh-hant"):
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an Accept-Language header."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalise_locale(tag)
        if locale and quality > 0:
            choices.append((-quality, index, locale))
    return sorted(choices)[0][2] if choices else DEFAULT_LOCALE


def translator(locale: str) -> Translate:
    """A function from message key (and format fields) to text in `locale`."""
    messages = CATALOGUE.get(locale, CATALOGUE[DEFAULT_LOCALE])
    fallback = CATALOGUE[DEFAULT_LOCALE]

    def translate(key: str, **fields: object) -> str:
        text = messages.get(key) or fallback.get(key) or key
        return text.format(**fields) if fields else text

    return translate
