"""Question bank models (docs/questions-format.md): strict, unknown keys are errors.

Rules that span a question (which keys a type needs, one correct option, matcher phrases)
live in `loader.py`, which knows the file and its lines.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr

from sandbox.scenarios.models import Difficulty, Id, LocaleName, MatcherField, Model, Text
from sandbox.text.matcher import Matcher

QuestionType = Literal["single", "multiple", "true_false", "short"]
Trade = Literal["pharmacy", "aesthetics"]
TYPES: tuple[str, ...] = ("single", "multiple", "true_false", "short")
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")


class Option(Model):
    text: Text
    correct: bool = False


class ShortExample(Model):
    """An answer a short-answer matcher must accept (`correct: true`) or refuse."""

    answer: Text
    correct: bool


class Question(Model):
    id: Id
    type: QuestionType
    prompt: Text
    explanation: Text
    difficulty: Difficulty = "medium"
    tags: list[Id] = Field(default_factory=list)
    points: Annotated[float, Field(gt=0, le=100)] = 1.0
    options: list[Option] | None = None
    answer: bool | None = None
    match: MatcherField | None = None
    examples: list[ShortExample] = Field(default_factory=list)
    manual: bool = False
    model_answer: Text | None = None

    # Set by the loader: the bank's locale and trade, and the compiled short-answer matcher.
    _locale: str = PrivateAttr(default="en")
    _trade: str = PrivateAttr(default="pharmacy")
    _bank: str = PrivateAttr(default="")
    _matcher: Matcher | None = PrivateAttr(default=None)
    _literals: Any = PrivateAttr(default=None)

    @property
    def locale(self) -> str:
        return self._locale

    @property
    def trade(self) -> str:
        return self._trade

    @property
    def bank(self) -> str:
        return self._bank

    @property
    def objective(self) -> bool:
        """Graded at once by the machine (everything but a manual short answer)."""
        return not (self.type == "short" and self.manual)

    @property
    def matcher(self) -> Matcher | None:
        return self._matcher


class BankInfo(Model):
    id: Id
    title: Text
    locale: LocaleName
    trade: Trade
    description: Text | None = None


class Bank(Model):
    bank: BankInfo
    questions: Annotated[list[Question], Field(min_length=1)]

    _source: str = PrivateAttr(default="<bank>")

    @property
    def id(self) -> str:
        return self.bank.id

    @property
    def locale(self) -> str:
        return self.bank.locale

    @property
    def source(self) -> str:
        return self._source
