"""English words as their dictionary forms, for format v2 (docs/format-v2.md).

Lemmas come from simplemma: a maintained, dependency-free lemmatiser whose dictionaries
ship inside the package, so it works offline, gives the same answer everywhere and loads
in about a tenth of a second (only when a v2 English pack is read). It looks words up one
by one, without a part-of-speech tagger: "injecting", "injected" and "injects" all read as
"inject", "took" as "take", "allergies" as "allergy". What it gets wrong for this domain
is corrected below; word families that are not inflections (pregnant and pregnancy) are
the lexicon's job, not the lemmatiser's.
"""

from __future__ import annotations

from functools import lru_cache

# Contractions, expanded before lemmatising so that negation stays visible: simplemma
# reads "wouldn't" as "will". A possessive 's is dropped, as the v1 matcher ignores it;
# after a pronoun 's is "is".
_NOT_FORMS = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "be not",
    # Typed without the apostrophe, as chat often is.
    "wont": "will not",
    "cant": "can not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "hasnt": "has not",
    "havent": "have not",
    "shouldnt": "should not",
    "wouldnt": "would not",
    "couldnt": "could not",
    "mustnt": "must not",
    "im": "i am",
    "youre": "you are",
    "theyre": "they are",
    "ive": "i have",
    "youve": "you have",
    "thats": "that is",
    "whats": "what is",
    "theres": "there is",
    "youll": "you will",
    "youd": "you would",
    # Chat forms, spelt out so that phrases written in full find them.
    "itll": "it will",
    "theyll": "they will",
    "ull": "you will",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "have to",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "tomoz": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "2day": "today",
    "2nite": "tonight",
    "tonite": "tonight",
    "b4": "before",
    "ppl": "people",
    "prob": "probably",
    "probs": "probably",
    "rn": "right now",
    "wk": "week",
    "wks": "weeks",
    "hrs": "hours",
    "mins": "minutes",
    "abt": "about",
    "msg": "message",
    "txt": "text",
    "thru": "through",
    "deffo": "definitely",
    "defo": "definitely",
}
_SUFFIXES = (
    ("n't", " not"),
    ("'re", " be"),
    ("'ll", " will"),
    ("'d", " would"),
    ("'ve", " have"),
    ("'m", " be"),
)
_IS_AFTER = frozenset("it that there here he she what who where how this".split())

# simplemma's answers that lose meaning here: comparatives keep their own form, and chat
# abbreviations read as the words they stand for.
_OVERRIDES = {
    "better": "better",
    "best": "best",
    "worse": "worse",
    "worst": "worst",
    "less": "less",
    "least": "least",
    "more": "more",
    "most": "most",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "ur": "your",
    "r": "are",
    "thx": "thanks",
    "meds": "medicine",
    "med": "medicine",
    "medication": "medicine",
    "medications": "medicine",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "w/o": "without",
    "dr": "doctor",
    "pharmacist": "pharmacist",
    "data": "data",
    "news": "news",
    "as": "as",
    "has": "have",
    "was": "be",
    "does": "do",
    "is": "be",
    "are": "be",
    "were": "be",
    "am": "be",
    "'s": "be",
    "me": "me",
    "us": "us",
    "him": "him",
    "her": "her",
    "them": "them",
    # simplemma's slips on irregular verbs: "gone" as "gan", "felt" and "won" as themselves.
    "gone": "go",
    "felt": "feel",
    "won": "win",
}


@lru_cache(maxsize=1)
def _simplemma():  # type: ignore[no-untyped-def]
    import simplemma

    return simplemma


@lru_cache(maxsize=65536)
def is_word(word: str) -> bool:
    """Whether simplemma's English dictionary knows `word` (lower case) as a word form."""
    return bool(_simplemma().is_known(word, lang="en"))


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The dictionary form of one lower-case English word."""
    found = _OVERRIDES.get(word)
    if found is not None:
        return found
    if not word.isalpha():
        return word
    result: str = _simplemma().lemmatize(word, lang="en")
    return result.lower()


#: Nouns in -ing that are a verb's -ing form when a person follows ("booking you in",
#: "fitting her in"): simplemma, without a tagger, reads them as the nouns.
_ING_VERBS = {"booking": "book", "fitting": "fit", "setting": "set"}
_OBJECTS = frozenset("you her him them it me us".split())


def verbs_before_objects(forms: list[str]) -> list[str]:
    """The lemmas with an -ing noun read as its verb where a person or "it" follows."""
    if _ING_VERBS.keys().isdisjoint(forms):
        return forms
    for i in range(len(forms) - 1):
        verb = _ING_VERBS.get(forms[i])
        if verb is not None and forms[i + 1] in _OBJECTS:
            forms[i] = verb
    return forms


def expand(words: list[str]) -> list[str]:
    """Contractions spelt out: "won't" as "will not", "she's" as "she is"."""
    out: list[str] = []
    for word in words:
        if "'" not in word and word not in _NOT_FORMS:
            out.append(word)
            continue
        full = _NOT_FORMS.get(word)
        if full is not None:
            out.extend(full.split())
            continue
        if word.endswith("'s"):
            base = word[:-2]
            out.append(base)
            if base in _IS_AFTER:
                out.append("be")
            continue
        for suffix, rest in _SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix):
                out.append(word[: -len(suffix)])
                out.extend(rest.split())
                break
        else:
            out.append(word)
    return out
