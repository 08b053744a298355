"""Peer review (pure): how a peer rates a transcript against the rubric's criteria, the
check of a submitted review, and what the ratings received add up to.

A peer rates every criterion of the rubric at one of three levels: `met` (done as the
description asks; for a forbidden criterion, kept clear of), `partly` (begun, incomplete or
late), `missed` (not done; for a forbidden criterion, crossed). Three levels rather than a
1-4 scale because they are the grader's own vocabulary with one step between, which
trainees can tell apart without a rating guide. A level counts 1, 0.5 and 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LEVELS = ("met", "partly", "missed")
LEVEL_VALUE = {"met": 1.0, "partly": 0.5, "missed": 0.0}
#: The longest comment a peer may leave.
COMMENT_MAX = 2000


class PeerReviewError(Exception):
    """A refused review: `field` names the input, `key` the interface message."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key


@dataclass(frozen=True)
class CheckedReview:
    ratings: dict[str, str]  # criterion id -> level, for every criterion of the rubric
    comment: str


def check_review(
    criteria: Sequence[str], ratings: Mapping[str, str], comment: str
) -> CheckedReview:
    """The review as it is stored, or `PeerReviewError` for the first problem: a criterion
    left unrated (field `rating-ID`), a level that is not one, an empty or too long comment."""
    checked: dict[str, str] = {}
    for criterion in criteria:
        level = (ratings.get(criterion) or "").strip()
        if level not in LEVELS:
            raise PeerReviewError(f"rating-{criterion}", "peer.error.rating")
        checked[criterion] = level
    comment = comment.strip()
    if not comment:
        raise PeerReviewError("comment", "peer.error.comment")
    if len(comment) > COMMENT_MAX:
        raise PeerReviewError("comment", "peer.error.comment_long")
    return CheckedReview(checked, comment)


def rating_percent(ratings: Mapping[str, str]) -> float | None:
    """One review as a percentage: the mean value of its levels (None: nothing rated)."""
    values = [LEVEL_VALUE[level] for level in ratings.values() if level in LEVEL_VALUE]
    if not values:
        return None
    return round(100 * sum(values) / len(values), 2)


def level_counts(reviews: Iterable[Mapping[str, str]], criterion: str) -> dict[str, int]:
    """How many reviews rated `criterion` at each level."""
    counts = dict.fromkeys(LEVELS, 0)
    for ratings in reviews:
        level = ratings.get(criterion)
        if level in counts:
            counts[level] += 1
    return counts


def masked_label(index: int) -> str:
    """The letter that stands for a person in a masked list: A, B, ... Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
