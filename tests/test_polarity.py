"""`sandbox.text.polarity` against TextBlob itself: the same float, to the last bit.

The tone check is specified as TextBlob's polarity, so the fast implementation is only
acceptable if it is indistinguishable from it. Every comparison here is `==` on the float
(and on the token list the analyser sees, which pins down where a difference would come
from), over three corpora: every trainee line of every pack's examples, hand-written
customer-service messages aimed at the analyser's rules, and a generated corpus of seeded
random messages built from TextBlob's own lexicon, negations, modifiers, punctuation,
abbreviations and emoticons, plus character-level noise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from textblob import TextBlob, _text
from textblob.en import sentiment

from sandbox.text import polarity as polarity_module
from sandbox.text import tone
from sandbox.text.polarity import _words, polarity, textblob_polarity

ROOT = Path(__file__).resolve().parents[1]
PACK_DIRS = [ROOT.parent / "shared" / "packs", ROOT / "scenario_packs"]


def textblob_words(text: str) -> list[str]:
    """The lower-cased tokens TextBlob's analyser scores, as `Sentiment.__call__` makes them."""
    return [w.lower() for w in " ".join(sentiment.tokenizer(text)).split()]


def mismatches(texts: list[str]) -> list[tuple[str, object, object]]:
    """The texts where the polarity or the analysed tokens differ from TextBlob's.

    Floats are compared with `==` and by their bits (`float.hex`), which also tells 0.0 from
    -0.0; the tokens show where a difference would come from.
    """
    bad: list[tuple[str, object, object]] = []
    for text in texts:
        expected = sentiment(text)[0]
        got = polarity(text)
        if type(got) is not float or got != expected or got.hex() != expected.hex():
            bad.append((text, got, expected))
            continue
        words, expected_words = _words(text), textblob_words(text)
        if words != expected_words:
            bad.append((text, words, expected_words))
    return bad


def assert_same(texts: list[str]) -> None:
    bad = mismatches(texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ from TextBlob, e.g. {bad[:5]}"


# --- (a) the packs ------------------------------------------------------------------------


def trainee_lines(node: Any) -> Iterator[str]:
    """Every trainee line under `node`: examples' `trainee` entries, plain or `{text: ...}`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "trainee" and isinstance(value, list):
                for line in value:
                    yield line if isinstance(line, str) else line["text"]
            else:
                yield from trainee_lines(value)
    elif isinstance(node, list):
        for item in node:
            yield from trainee_lines(item)


def pack_lines() -> list[str]:
    lines: list[str] = []
    for directory in PACK_DIRS:
        for path in sorted(directory.glob("*.yaml")):
            lines.extend(trainee_lines(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return lines


def test_every_trainee_line_of_every_pack() -> None:
    lines = pack_lines()
    assert len(lines) > 100  # the packs were found and read
    assert_same(lines)


# --- (b) hand-written messages ------------------------------------------------------------

HANDWRITTEN = [
    # greetings and closings
    "Hello, thanks for contacting us!",
    "Hi there, how can I help you today?",
    "Good morning! I'm happy to help.",
    "Good afternoon, thank you for your patience.",
    "Welcome back, it's nice to hear from you again.",
    "Thanks for waiting, I really appreciate it.",
    "Thank you so much for your understanding.",
    "Is there anything else I can help you with?",
    "Take care and get well soon, bye!",
    "Have a lovely day!",
    "Have a great weekend!!",
    "You're welcome, glad I could help.",
    "It was a pleasure helping you today.",
    "Bye for now, and feel better soon.",
    "Goodbye.",
    "Thanks!",
    "Thanks a lot!!!",
    "OK.",
    "Ok, great.",
    "Sure thing!",
    # negations
    "That's not good.",
    "That is not good at all.",
    "This is not very good.",
    "It's never really bad.",
    "It is not bad.",
    "Not bad at all!",
    "It's not a good idea to take both.",
    "That would not be a good choice for you.",
    "No, that's not right.",
    "No problem at all.",
    "Never mind, it's fine.",
    "I don't think that's a good idea.",
    "I don't know, sorry.",
    "We can't send it today, unfortunately.",
    "I can't guarantee it will work.",
    "It won't be a problem.",
    "It won't hurt to ask your doctor.",
    "You shouldn't worry too much.",
    "That isn't correct, I'm afraid.",
    "That isn't safe with warfarin.",
    "It doesn't usually cause side effects.",
    "We didn't receive your payment.",
    "I haven't seen your order yet.",
    "They aren't happy about the delay.",
    "It wasn't your fault.",
    "This is really not good.",
    "That's really not acceptable.",
    "It's certainly not dangerous.",
    "It is definitely not the best option.",
    "not good",
    "not very good",
    "never really bad",
    "not really helpful",
    "no good",
    "not nice, not kind, not fair",
    "It is not a very nice situation.",
    "I am not at all happy with this.",
    "We are not able to refund it.",
    "not not good",
    "Never, ever do that again.",
    # modifiers
    "That's very good news.",
    "I'm really sorry about that.",
    "I'm extremely sorry for the mix-up.",
    "That's absolutely fine.",
    "It's completely safe for most people.",
    "It's totally safe, no side effects.",
    "This is a very, very bad idea.",
    "Very good!",
    "Really great service.",
    "Extremely helpful, thank you.",
    "It's quite common and usually harmless.",
    "It's rather unusual, to be honest.",
    "That's incredibly kind of you.",
    "It is highly effective.",
    "This is slightly worse than before.",
    "We're deeply sorry for the trouble.",
    "You were perfectly right to ask.",
    "The parcel is really very late.",
    "I'm so sorry, that's terrible.",
    "That's too bad.",
    "It's pretty good, actually.",
    "It's fairly easy to use.",
    "Honestly, this is ridiculous.",
    "Sadly, it's out of stock.",
    "Luckily, it arrived on time.",
    "Unfortunately the courier is slow.",
    # exclamation marks
    "great!!",
    "bad !",
    "Great!",
    "Awful!",
    "Terrible ! ! !",
    "That's wonderful news!",
    "Oh no, that's awful!",
    "Thanks! Bye!",
    "Wow!!! Amazing!!!",
    "It works!",
    "Excellent choice!",
    "Perfect, thank you!",
    "Stop!",
    "Please don't!",
    "!",
    "!!!",
    "Good!?",
    "Really?!",
    "Seriously!?!",
    # contractions
    "I'm sorry you're unwell.",
    "It's fine, don't worry.",
    "We'll sort it out, I promise.",
    "You'd better see a doctor.",
    "I've checked your order.",
    "They're on their way.",
    "She's been very patient.",
    "Let's see what we can do.",
    "That'll be ready tomorrow.",
    "Who's your doctor?",
    "We've got plenty in stock.",
    "I'd recommend paracetamol.",
    "Don't take ibuprofen.",
    "DON'T take it with alcohol.",
    "Can't you wait a day?",
    "Won't it be too late?",
    "y'all are great",
    "rock 'n' roll",
    "'Tis the season.",
    "It's the customer's choice.",
    "The pharmacists' advice is free.",
    "'quoted' and 'not good'",
    # abbreviations
    "Mr. Smith will call you back.",
    "Dr. Patel is very kind.",
    "Mrs. Hadley, thanks for waiting.",
    "Ms. Jones said it was fine.",
    "Please ask St. Mary's clinic.",
    "Take fluids, e.g. water or tea.",
    "Rest, i.e. stay in bed.",
    "We ship in the U.S. and the U.K.",
    "It's made in the U.S.A.",
    "Vitamins, minerals, etc. are in aisle 3.",
    "Open 9 a.m. to 5 p.m.",
    "See fig. 2 for details.",
    "Ref. 12345, please keep it.",
    "Apples vs. oranges.",
    "Prof. Brown vs. Dr. Green.",
    "J. R. R. Tolkien wrote it.",
    "A. Smith and B. Jones.",
    "I.e. it's not good.",
    "E.g. it's very good.",
    "w/ food",
    "It's approx. 5 km away.",
    "Jan. 5th, 2024.",
    "Mr.",
    "Dr.",
    "U.S.",
    # ellipses and periods
    "Well... that's not ideal.",
    "Hmm... let me check.",
    "So....",
    "Wait.... really?",
    "Ok...",
    "...",
    "....",
    ". . .",
    "Thanks.. bye..",
    "Good...!",
    "It's great...!!",
    "Sorry…",
    "Please hold on… I'm checking.",
    "Version 1.5 is better.",
    "It costs $12.99.",
    "Call 555.123.4567.",
    "The dose is 0.5 ml.",
    ".5 ml is fine.",
    "End.",
    # quotes
    'He said "great" and left.',
    'It says "not suitable for children".',
    "The label says 'do not freeze'.",
    "“Excellent service,” she said.",
    "‘Good’ isn't good enough.",
    "He’s very happy with it.",
    "It’s not good.",
    "Don’t worry, it’s fine.",
    '"Bad" is an understatement.',
    '"',
    "'",
    '""',
    # parentheses
    "Paracetamol (not ibuprofen) is safer.",
    "Take it with food (e.g. toast).",
    "The spray (saline) is gentle.",
    "See page 8 (or 9).",
    "(see page 8)",
    "Your order (ref 1238) is ready.",
    "Great (!)",
    "Sure (!) that will work.",
    "Good ( ! ) idea.",
    "(good)",
    "((very good))",
    "[bad]",
    "{nice}",
    # numbers
    "Take 500 mg to 1 g every 4 hours.",
    "No more than 4 g in 24 hours.",
    "Your order 12345 ships in 2-3 days.",
    "It's 100% safe.",
    "Call us 24/7.",
    "The 3rd box was damaged.",
    "It's the 2nd time this happened.",
    "Room 101.",
    "10:30 is fine.",
    "Between 8 and 10.",
    "I'll call at 8 :)",
    "Option 3",
    # hyphenated words
    "It's a well-known side-effect.",
    "We offer a risk-free trial.",
    "That's a top-notch product.",
    "Our staff are open-minded.",
    "It was a mind-boggling mix-up.",
    "A long-winded, over-the-top reply.",
    "This is a rip-off!",
    "She's light-hearted and kind.",
    "Self-care is important.",
    "An easy-to-use, child-proof cap.",
    "Well-intentioned but not helpful.",
    "re-order",
    "e-mail us",
    "--",
    "good--bad",
    # capitals
    "GREAT SERVICE!",
    "THIS IS NOT GOOD.",
    "WHAT MEDICATION ARE YOU ON?",
    "I AM VERY SORRY.",
    "Very Good Indeed.",
    "NOT BAD.",
    "NEVER REALLY BAD",
    "Stupid.",
    "That's STUPID!",
    "Idiot.",
    # orders, deliveries and refunds
    "Your parcel was delivered this morning.",
    "I'm afraid the cold-chain parcel arrived warm, so please don't use it.",
    "We'll send a free replacement by express courier.",
    "The refund will reach your card in 3-5 working days.",
    "Sorry, the item is out of stock until next week.",
    "I've cancelled the order as you asked.",
    "Could you confirm your order number, please?",
    "Could you send a photo of the damaged box?",
    "I understand how frustrating this must be.",
    "I completely understand your concern.",
    "That must have been worrying for you.",
    "You did the right thing by calling us.",
    "I'll personally make sure it's sorted today.",
    "Unfortunately, we can't change the address once it's shipped.",
    "The courier tried to deliver, but nobody was home.",
    "Your prescription has been approved by our pharmacist.",
    "We need a valid prescription for that medicine.",
    "I can't sell antibiotics without a prescription, I'm sorry.",
    "An online doctor could see you today.",
    "For privacy reasons I can only discuss the order with the account holder.",
    "I'm not allowed to share another person's details.",
    "Your account is now active; you can log in.",
    "The password reset link expires in 24 hours.",
    "Please check your spam folder for the e-mail.",
    "It's usually a quick and painless process.",
    "Most people feel better within a few days.",
    "If it gets worse, please see your GP straight away.",
    "Seek urgent help if you have chest pain or trouble breathing.",
    "The side effects are mild and temporary.",
    "It's a safe and effective treatment for most adults.",
    "There's a small risk of bleeding, so we need to be careful.",
    "Results vary, and no one can promise a perfect outcome.",
    "I'd rather be honest than sell you something unsuitable.",
    "That's a sensible question to ask.",
    "You're absolutely right, and I apologise.",
    # hostile or curt replies
    "It's not our fault, the courier is slow.",
    "It will arrive when it arrives.",
    "Read the label yourself.",
    "You should have known that.",
    "That's a stupid question.",
    "Whatever, just buy it.",
    "I don't care.",
    "Stop wasting my time.",
    "This is ridiculous, honestly.",
    "Your problem, not mine.",
    # emoticons and emoji
    "Thanks :)",
    "Thanks :-)",
    "Sorry :(",
    "Oh no :'(",
    "Great :D",
    "See you ;)",
    "Hmm :/",
    "Love it <3",
    "xD",
    "XD that's funny",
    "8-)",
    "o.O",
    "Thanks! 😊",
    "Great job 👍",
    "♥ thanks",
    "That's it :P",
    "ok :3",
    "Note: see the label.",
    "Hours: 9-5; closed Sundays.",
    # whitespace and layout
    "",
    " ",
    "good",
    "  very   good  ",
    "Line one.\nLine two is great.",
    "First paragraph.\n\nSecond paragraph is good.",
    "Great\n\n\nnot good",
    "Good\r\n\r\nbad",
    "Tab\tseparated\tgood",
    "Good END-OF-SENTENCE bad",
    "non\u00a0breaking good",
    # other languages and characters
    "Café crème is très bon.",
    "Naïve but good.",
    "ΣΟΦΟΣ good",
    "İstanbul is nice.",
    "您好，欢迎咨询！",
    "Good — really good.",
    "Price: £5 or €6.",
    "50°C is too hot.",
    "@support #help",
    "a&b",
    "a/b",
    "C++ is hard",
    "email@example.com is good",
    "https://example.com/help is useful",
]


def test_handwritten_messages() -> None:
    assert len(HANDWRITTEN) > 300
    assert_same(HANDWRITTEN)


@pytest.mark.parametrize("suffix", ["!", "!!", " !", "...", ".", "?", " :)", ")", "\n\nThanks."])
def test_handwritten_messages_with_endings(suffix: str) -> None:
    assert_same([text + suffix for text in HANDWRITTEN])


def test_handwritten_messages_in_capitals_and_lower_case() -> None:
    assert_same([text.upper() for text in HANDWRITTEN] + [text.lower() for text in HANDWRITTEN])


# --- (c) a generated corpus ---------------------------------------------------------------

LEXICON_WORDS = sorted(w for w in dict.keys(sentiment) if " " not in w)
ADVERBS = sorted(w for w, senses in dict.items(sentiment) if "RB" in senses)
NEGATIONS = ["not", "no", "never", "n't", "don't", "can't", "won't", "isn't", "Not", "NEVER"]
MODIFIERS = ["very", "really", "extremely", "so", "too", "quite", "totally", "absolutely"]
FILLERS = (
    "the a an i it is to of and you we your our this that be was with for on at by "
    "order parcel doctor tablet dose pharmacy refund 8 3 0 12 2024 o x X D O P p s c b"
).split()
ABBREVIATIONS = [*sorted(_text.ABBREVIATIONS), "Mr.", "Dr.", "Mrs.", "St.", "U.S.", "A.", "ok."]
EMOTICONS = sorted(face for faces in _text.EMOTICONS.values() for face in faces)
PUNCTUATION = [
    *_text.PUNCTUATION,
    "...",
    "..",
    "....",
    "(!)",
    "( ! )",
    "!!",
    "?!",
    "'s",
    "n't",
    "“",
    "”",
    "‘",
    "’",
    "…",
    "—",
    "/",
    "%",
    "<",
    ">",
    "\\",
    "°",
    "♥",
]
SEPARATORS = [" "] * 12 + ["", "", "  ", "\n", "\n\n", "\t", "\r\n"]


def word_salad(rng: random.Random) -> str:
    """A random message of lexicon words, negations, modifiers, fillers and punctuation."""
    parts: list[str] = []
    for _ in range(rng.randint(1, 25)):
        r = rng.random()
        if r < 0.30:
            word = rng.choice(LEXICON_WORDS)
        elif r < 0.38:
            word = rng.choice(ADVERBS)
        elif r < 0.46:
            word = rng.choice(MODIFIERS)
        elif r < 0.55:
            word = rng.choice(NEGATIONS)
        elif r < 0.72:
            word = rng.choice(FILLERS)
        elif r < 0.77:
            word = rng.choice(ABBREVIATIONS)
        elif r < 0.80:
            word = rng.choice(EMOTICONS)
        else:
            word = rng.choice(PUNCTUATION)
        case = rng.random()
        if case < 0.08:
            word = word.upper()
        elif case < 0.16:
            word = word.capitalize()
        parts.append(word)
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


NOISE_CHARACTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      .,;:!?()[]{}`'\"@#$^&*"
    "+-|=~_<>/\\%\n\r\t“”‘’°♥…éΣİ\u00a0"
)
NOISE_WORDS = [
    "good",
    "bad",
    "not",
    "very",
    "really",
    "great",
    "n't",
    "...",
    "Mr",
    "e.g",
    "8)",
    ":)",
    ":-(",
    "(!)",
    "xD",
    "o.O",
    "END-OF-SENTENCE",
    "never",
    "!",
]


def noise(rng: random.Random) -> str:
    """A random string of characters the tokenizer treats specially, and a few words."""
    return "".join(
        rng.choice(NOISE_CHARACTERS) if rng.random() < 0.7 else rng.choice(NOISE_WORDS)
        for _ in range(rng.randint(0, 40))
    )


def test_generated_word_salad() -> None:
    rng = random.Random(20240611)
    assert_same([word_salad(rng) for _ in range(16_000)])


def test_generated_character_noise() -> None:
    rng = random.Random(1729)
    assert_same([noise(rng) for _ in range(6_000)])


def test_kept_chunk_tokens_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # `_words` keeps each chunk's tokens; with none kept, with every one kept and with a
    # memo that starts again every few chunks, the tokens are the same.
    rng = random.Random(31337)
    texts = [word_salad(rng) for _ in range(1_500)] + [noise(rng) for _ in range(1_500)]
    texts += HANDWRITTEN
    polarity_module._CHUNKS.clear()
    cold = []
    for text in texts:
        polarity_module._CHUNKS.clear()
        cold.append(_words(text))
    assert [_words(text) for text in texts] == cold  # the first pass filled the memo
    assert [_words(text) for text in texts] == cold  # and this one reads it
    assert len(polarity_module._CHUNKS) > 1_000
    monkeypatch.setattr(polarity_module, "_CHUNKS_KEPT", 7)
    polarity_module._CHUNKS.clear()
    assert [_words(text) for text in texts] == cold
    assert len(polarity_module._CHUNKS) <= 7
    assert cold == [textblob_words(text) for text in texts]


def test_a_message_without_a_phrase_is_not_scored_and_scores_zero() -> None:
    # `polarity` skips the analyser when no word can make a phrase; the analyser itself
    # gives 0.0 (not -0.0) for those, and TextBlob too (the tests above).
    rng = random.Random(4242)
    texts = [word_salad(rng) for _ in range(3_000)] + [noise(rng) for _ in range(3_000)]
    texts += HANDWRITTEN + [f"Your order {n} ships today ({n})." for n in range(100)]
    skipped = 0
    for text in texts:
        words = _words(text)
        if polarity_module._SCORED.isdisjoint(words):
            skipped += 1
            assert polarity_module._score(words).hex() == polarity(text).hex() == "0x0.0p+0"
        else:
            assert polarity_module._score(words).hex() == polarity(text).hex()
    assert skipped > 1_000


# --- the tone check -----------------------------------------------------------------------


def test_english_polarity_is_textblobs() -> None:
    tone.clear_memo()
    for text in ["I'm really sorry, that's not good.", "Great :)", "Stupid."]:
        assert tone.english_polarity(text) == TextBlob(text).sentiment.polarity
        assert tone.english_polarity(text) == textblob_polarity(text)


def test_the_polarity_memo_is_bounded_and_gives_what_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [f"{line} ({n})" for n in range(4) for line in HANDWRITTEN[:6]]
    monkeypatch.setattr(tone, "_POLARITY_KEPT", 5)
    tone.clear_memo()
    for _ in range(2):
        for text in texts:
            assert tone.english_polarity(text) == polarity(text)
            assert tone.english_polarity(text) == polarity(text)  # now from the memo
            assert len(tone._POLARITY) <= 5
