"""xAPI statements for an exam's graded conversations, so results can leave the product
for a learning record store: per conversation "attempted", "scored" and "passed" or
"failed", with each criterion's result as a result extension.

Pure: plain values in, JSON-ready dictionaries out. The statement ids are derived from
the attempt and verb (uuid5), so exporting twice gives the same statements and a record
store that already has one ignores it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

VERBS = {
    "attempted": "http://adlnet.gov/expapi/verbs/attempted",
    "scored": "http://adlnet.gov/expapi/verbs/scored",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
}
#: The namespace of every id this export makes (statement ids, activity and extension IRIs).
NAMESPACE = uuid.UUID("6b1d5c1e-9d0a-4c55-9a31-3f3f8e0b2c71")
CRITERIA_EXTENSION = "https://sandbox.invalid/xapi/extensions/criteria"


@dataclass(frozen=True)
class GradedConversation:
    attempt_id: int
    trainee: str
    exam_id: int
    exam_name: str
    pack_id: str
    scenario_id: str
    scenario_title: str
    started_at: datetime
    ended_at: datetime
    score: float
    passed: bool
    criteria: Sequence[Mapping[str, Any]]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def statements(conversations: Iterable[GradedConversation], home_page: str) -> list[dict[str, Any]]:
    """Three statements per graded conversation: attempted, scored, passed or failed."""
    found: list[dict[str, Any]] = []
    for c in conversations:
        actor = {"objectType": "Agent", "account": {"homePage": home_page, "name": c.trainee}}
        activity = {
            "objectType": "Activity",
            "id": f"{home_page.rstrip('/')}/xapi/activities/{c.pack_id}/{c.scenario_id}",
            "definition": {
                "name": {"und": c.scenario_title},
                "type": "http://adlnet.gov/expapi/activities/simulation",
            },
        }
        context = {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": f"{home_page.rstrip('/')}/xapi/exams/{c.exam_id}",
                        "definition": {"name": {"und": c.exam_name}},
                    }
                ]
            }
        }
        criteria = [
            {"id": str(e.get("id")), "kind": str(e.get("kind")), "status": str(e.get("status"))}
            for e in c.criteria
        ]
        result = {
            "score": {"scaled": round(c.score / 100, 4), "raw": c.score, "min": 0, "max": 100},
            "success": c.passed,
            "completion": True,
            "extensions": {CRITERIA_EXTENSION: criteria},
        }
        for verb, when in (
            ("attempted", c.started_at),
            ("scored", c.ended_at),
            ("passed" if c.passed else "failed", c.ended_at),
        ):
            statement: dict[str, Any] = {
                "id": str(uuid.uuid5(NAMESPACE, f"{c.attempt_id}:{verb}")),
                "actor": actor,
                "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
                "object": activity,
                "context": context,
                "timestamp": _iso(when),
            }
            if verb != "attempted":
                statement["result"] = result
            found.append(statement)
    return found
