"""TextBlob's English sentiment polarity, bit for bit, at a fraction of the cost.

The tone check must use `textblob.en.sentiment(text)[0]` (the pattern analyser), but that
spends most of its 70-250 µs a message in a general tokenizer: seven regex substitutions for
contractions, whitespace regexes, sentence splitting and an 80-way emoticon regex run on
every sentence. `polarity` runs the same algorithm on TextBlob's own data, doing only the
work the polarity depends on:

* The analyser sees the lower-cased tokens in order. TextBlob splits them into sentences
  and joins them again; the split keeps every token, so it only matters through what is done
  per sentence: dropping the END-OF-SENTENCE marker that replaces blank lines, and the
  sarcasm "(!)" and emoticon substitutions. Only a message whose tokens hold the marker or
  could match a substitution (":)", "(see page 8)") pays for the split, and then with
  TextBlob's own regexes.
* Of the seven contraction substitutions only "n't" has an effect: each of the others
  inserts a space before an apostrophe that the quote handling surrounds with spaces anyway.
* Every straight or curly quote becomes a token of its own, so no token can be one of the
  contraction keys TextBlob's punctuation loops test for, and those tests are dropped.
* Subjectivity and the phrases' words are not computed; the polarity's float operations are
  TextBlob's, in its order, so the result is equal, not merely close.

The lexicon, negations, modifier test, punctuation, abbreviations and emoticons are read from
TextBlob's loaded objects at import, so its data stays the single source.
`tests/test_polarity.py` asserts exact equality with TextBlob on the pack corpus, hand-written
messages and a generated corpus of tens of thousands of sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple

from textblob import _text
from textblob.en import sentiment as _sentiment

# --- TextBlob's data, read once ---------------------------------------------------------

len(_sentiment)  # the lexicon is a lazy dict: any access loads (and annotates) it once

_modifier: Callable[[str], bool] = _sentiment.modifier
_modifier_tags: tuple[Any, ...] = tuple(_sentiment.modifiers)


class _Word(NamedTuple):
    """What the analyser uses of one lexicon word, looked up without part of speech."""

    polarity: float
    intensity: float
    #: With no part of speech, a known word modifies the next one when any of its senses has
    #: a modifier tag (is an adverb)...
    modifies: bool
    #: ...and lets a following negation join its phrase when it passes TextBlob's modifier
    #: test ("really not good"). Precomputed: the test only ever sees known words.
    ly: bool


def _word(word: str, senses: dict[Any, Any]) -> _Word:
    polarity, _subjectivity, intensity = senses[None]
    modifies = any(tag in senses for tag in _modifier_tags)
    return _Word(polarity, intensity, modifies, bool(_modifier(word)))


# TextBlob looks words up as `pos in lexicon[word]` with pos None; every entry has a None
# sense (the average of its tags), but keep the condition rather than rely on that.
_LEXICON: Final[dict[str, _Word]] = {
    word: _word(word, senses) for word, senses in dict.items(_sentiment) if None in senses
}
_NEGATIONS: Final[frozenset[str]] = frozenset(_sentiment.negations)


def _face_table() -> dict[str, float]:
    """The polarity of every token TextBlob's analyser would score as an emoticon.

    An unknown token counts when it is the lower-cased form of a face, not alphabetic, at
    most 5 characters and not a substring of TextBlob's punctuation string; the first
    category in TextBlob's order wins, as its loop stops at the first match. The last three
    tests depend on the token alone, so they are applied to the table once, here.
    """
    faces: dict[str, float] = {}
    for (_kind, score), forms in _text.EMOTICONS.items():
        for form in forms:
            faces.setdefault(form.lower(), score)
    return {
        face: score
        for face, score in faces.items()
        if not face.isalpha() and len(face) <= 5 and face not in _text.PUNCTUATION
    }


_FACES: Final[dict[str, float]] = _face_table()
_EXCLAMATION, _SARCASM_MARK = "!", "(!)"
#: The unknown tokens that add or change a phrase: one set test per token finds them.
_MARKS: Final[frozenset[str]] = frozenset({_EXCLAMATION, _SARCASM_MARK, *_FACES})

# Punctuation split off a token's start (TextBlob leaves periods for the abbreviation rules)
# and off its end (periods included).
_LEADING: Final[frozenset[str]] = frozenset(_text.PUNCTUATION.replace(".", ""))
_TRAILING: Final[frozenset[str]] = _LEADING | {"."}
_ABBREVIATIONS: Final[frozenset[str]] = frozenset(_text.ABBREVIATIONS)
# TextBlob's three abbreviation patterns are anchored at both ends; one alternation of them
# matches where any of them does, in one call.
_ABBREVIATION_PATTERN: Final[re.Pattern[str]] = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (_text.RE_ABBR1, _text.RE_ABBR2, _text.RE_ABBR3))
)
_CURLY_QUOTES: Final[tuple[str, ...]] = ("“", "”", "‘", "’")
_EOS: Final[str] = _text.EOS
_LINEBREAK: Final[re.Pattern[str]] = re.compile(r"\n{2,}")
_SARCASM: Final[re.Pattern[str]] = _text.RE_SARCASM
_SENTENCE_ENDS: Final[tuple[str, ...]] = ("...", ".", "!", "?", _EOS)
_SENTENCE_TRAILERS: Final[tuple[str, ...]] = ("'", '"', "”", "’", "...", ".", "!", "?", ")", _EOS)


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex for `words`, each allowed a single space between its characters.

    Built like TextBlob's emoticon regex (the same alternatives, `" ?"` between characters)
    but factored by common prefixes: the same set of strings, so it matches exactly where
    TextBlob's does, in ~2 µs instead of ~7 µs on a typical message because the regex engine
    no longer tries 80 alternatives at every "o", "x" and ":".
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if char == "":
                continue
            rest = {k: v for k, v in child.items() if k != ""}
            if not rest:
                branches.append(re.escape(char))
            elif "" in child:
                branches.append(f"{re.escape(char)}(?: ?{render(rest)})?")
            else:
                branches.append(f"{re.escape(char)} ?{render(rest)}")
        return "(?:" + "|".join(branches) + ")"

    return render(trie)


# TextBlob's emoticon regex is `(<emoticon>)($|\s)` applied to each sentence; a match in a
# sentence is also a match in the space-joined tokens, so no match there proves the
# substitution changes nothing and the sentence split can be skipped.
_EMOTICON: Final[re.Pattern[str]] = re.compile(
    _trie_pattern(face for faces in _text.EMOTICONS.values() for face in faces) + r"(?:$|\s)"
)


# --- the algorithm -----------------------------------------------------------------------


def _is_abbreviation(token: str) -> bool:
    return token in _ABBREVIATIONS or _ABBREVIATION_PATTERN.match(token) is not None


def _split_chunk(chunk: str, out: list[str]) -> None:
    """Append the tokens TextBlob makes of one whitespace-separated chunk (2+ characters).

    Leading punctuation comes off one mark at a time; trailing punctuation, an ellipsis and
    a final period too, unless what is left is an abbreviation ("Mr.", "e.g.", "U.S.").
    """
    if chunk[0] not in _LEADING and chunk[-2] not in _TRAILING:
        # "word," and "word.": a single trailing mark, the common case, without the loops.
        if chunk[-1] != "." or not _is_abbreviation(chunk):
            out.append(chunk[:-1])
            out.append(chunk[-1])
        else:
            out.append(chunk)
        return
    if chunk[1] not in _LEADING and chunk[-1] not in _TRAILING:
        # "(see", "#1234", "$20": one leading mark and nothing to take off the end.
        out.append(chunk[0])
        out.append(chunk[1:])
        return
    while chunk and chunk[0] in _LEADING:
        out.append(chunk[0])
        chunk = chunk[1:]
    tail: list[str] = []
    while chunk and chunk[-1] in _TRAILING:
        # The three steps run in this order in one pass, each on what the last one left.
        if chunk[-1] in _LEADING:
            tail.append(chunk[-1])
            chunk = chunk[:-1]
        if chunk.endswith("..."):
            tail.append("...")
            chunk = chunk[:-3].rstrip(".")
        if chunk.endswith("."):
            if _is_abbreviation(chunk):
                break
            tail.append(".")
            chunk = chunk[:-1]
    if chunk:
        out.append(chunk)
    out.extend(reversed(tail))


def _sentences(tokens: list[str]) -> list[str]:
    """TextBlob's sentences of `tokens`, with its sarcasm and emoticon substitutions.

    Only taken when the tokens hold the END-OF-SENTENCE marker or could match one of the two
    substitutions; the split mirrors TextBlob's loop and the substitutions are TextBlob's own
    compiled regexes and replacements, so the result is its result.
    """
    sentences: list[list[str]] = [[]]
    start = end = 0
    while end < len(tokens):
        if tokens[end] in _SENTENCE_ENDS:
            # Closing quotes, brackets and repeated marks stay with the sentence they end.
            while end < len(tokens) and tokens[end] in _SENTENCE_TRAILERS:
                if tokens[end] in ("'", '"') and sentences[-1].count(tokens[end]) % 2 == 0:
                    break
                end += 1
            sentences[-1].extend(t for t in tokens[start:end] if t != _EOS)
            sentences.append([])
            start = end
        end += 1
    sentences[-1].extend(tokens[start:end])
    result = []
    for sentence in sentences:
        if sentence:
            text = " ".join(sentence)
            if "(" in text:
                text = _SARCASM.sub("(!)", text)
            if _EMOTICON.search(text) is not None:  # else TextBlob's substitution is a no-op
                text = _text.RE_EMOTICONS.sub(_join_emoticon, text)
            result.append(text)
    return result


def _join_emoticon(match: re.Match[str]) -> str:
    return match.group(1).replace(" ", "") + match.group(2)


#: The tokens of whitespace-separated chunks seen lately ("pressure." is "pressure", "."):
#: words recur from message to message, and a look-up costs less than splitting punctuation
#: off again. Bounded: when full it starts again.
_CHUNKS: dict[str, tuple[str, ...]] = {}
_CHUNKS_KEPT: Final[int] = 16384


def _tokenize_chunk(chunk: str) -> tuple[str, ...]:
    """The tokens TextBlob makes of one whitespace-separated chunk, kept in `_CHUNKS`."""
    if len(chunk) > 1 and (chunk[0] in _LEADING or chunk[-1] in _TRAILING):
        out: list[str] = []
        _split_chunk(chunk, out)
        tokens = tuple(out)
    else:
        tokens = (chunk,)  # a word, or a lone mark: its own token either way
    if len(_CHUNKS) >= _CHUNKS_KEPT:
        _CHUNKS.clear()
    _CHUNKS[chunk] = tokens
    return tokens


def _words(text: str) -> list[str]:
    """The lower-cased tokens TextBlob's analyser sees for `text`."""
    if "'" in text:
        # Of TextBlob's contraction rules only "n't" survives the quote spacing below.
        text = text.replace("n't", " n't").replace("'", " ' ")
    if '"' in text:
        text = text.replace('"', ' " ')
    ascii_only = text.isascii()
    if not ascii_only:
        for quote in _CURLY_QUOTES:
            if quote in text:
                text = text.replace(quote, f" {quote} ")
    if "\n" in text:
        text = text.replace("\r\n", "\n")
        if "\n\n" in text:
            text = _LINEBREAK.sub(f" {_EOS} ", text)  # a blank line ends a sentence
    # str.split and the regex `\s` TextBlob splits on accept exactly the characters
    # str.isspace accepts (checked over all of Unicode), so this is its whitespace split.
    tokens: list[str] = []
    extend, known = tokens.extend, _CHUNKS.get
    for chunk in text.split():
        chunk_tokens = known(chunk)
        if chunk_tokens is None:
            chunk_tokens = _tokenize_chunk(chunk)
        extend(chunk_tokens)
    joined = " ".join(tokens)
    if (
        _EOS in joined
        or ("(" in joined and _SARCASM.search(joined) is not None)
        or _EMOTICON.search(joined) is not None
    ):
        joined = " ".join(_sentences(tokens))
    if ascii_only:
        return joined.lower().split()
    # Lower-casing a whole string can differ from token by token (Greek final sigma).
    return [token.lower() for token in joined.split()]


def _score(words: list[str]) -> float:
    """TextBlob's `Sentiment.assessments` and average over lower-cased `words`.

    Each phrase is [polarity, intensity, negated]; subjectivity and the phrase's words are
    not needed for the polarity. The float operations are TextBlob's, in its order, so the
    result is the same to the last bit.
    """
    phrases: list[list[Any]] = []
    modifier: _Word | None = None  # the known adverb the next known word may join
    negation: str | None = None  # a pending "not", "no", "never" or "n't"
    lexicon, negations, marks = _LEXICON, _NEGATIONS, _MARKS
    for word in words:
        known = lexicon.get(word)
        if known is not None:
            if modifier is None:
                phrases.append([known.polarity, known.intensity, False])
            else:
                # "very good": the adverb's intensity scales the word, clamped to [-1, 1].
                last = phrases[-1]
                last[0] = max(-1.0, min(known.polarity * last[1], +1.0))
                last[1] = known.intensity
            if negation is not None:
                last = phrases[-1]
                last[1] = 1.0 / last[1]
                last[2] = True
            modifier = known if known.modifies else None
            negation = word if word in negations else None
            continue
        if word in negations:
            negation = word
        elif negation is not None and len(word.strip("'")) > 1:
            negation = None  # a negation survives only one-letter words ("not a good")
        if modifier is not None:
            if negation is not None and modifier.ly:
                phrases[-1][2] = True  # "really not good"
                negation = None
            elif len(word) > 2:
                modifier = None  # a modifier survives only short words ("really is a good")
        if word in marks:
            if word == _EXCLAMATION and phrases:
                phrases[-1][0] = max(-1.0, min(phrases[-1][0] * 1.25, +1.0))  # "good!"
            if word == _SARCASM_MARK:
                phrases.append([0.0, 1.0, False])
            face = _FACES.get(word)
            if face is not None:
                phrases.append([face, 1.0, False])
    # TextBlob sums from the integer 0 and divides by float(count or 1); so does this.
    total: float = 0
    for value, _intensity, negated in phrases:
        total += value * -0.5 if negated else value
    return total / float(len(phrases) or 1)


def textblob_polarity(text: str) -> float:
    """The reference this module reproduces: TextBlob's own analyser."""
    return float(_sentiment(text)[0])


#: The words that make a phrase: a lexicon word, the sarcasm mark, a face. Without one the
#: analyser has no phrase, and TextBlob's average of none is 0.0 (its sum, the integer 0,
#: divided by 1.0), whatever else the message holds.
_SCORED: Final[frozenset[str]] = frozenset(_LEXICON).union((_SARCASM_MARK,), _FACES)


def polarity(text: str) -> float:
    """Exactly `textblob.en.sentiment(text)[0]`, about ten times faster."""
    words = _words(text)
    if _SCORED.isdisjoint(words):
        return 0.0  # what `_score` returns for a message without a phrase, unscored
    return _score(words)


def polarity_without(text: str, neutral: frozenset[str]) -> float:
    """TextBlob's polarity of `text` read as if the `neutral` words (lower case) were not
    in its lexicon: the same tokens, the same rules, those words scoring nothing."""
    words = _words(text)
    if not neutral.isdisjoint(words):
        words = [w for w in words if w not in neutral]
    if _SCORED.isdisjoint(words):
        return 0.0
    return _score(words)
