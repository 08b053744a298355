"""One of the concurrent writers of tests/test_faults.py, run as its own process.

usage: python fault_writer.py DATABASE_URL PACKS_FOLDER USER_NAME GO_FILE CONVERSATIONS

Waits for GO_FILE to exist (so every writer starts together), then plays CONVERSATIONS whole
practice conversations through the chat's own write path (the conversation service: read the
stored state, store the turn, grade at the end), each with an audit event, and prints
`done N` on success. Any exception is printed and exits 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlmodel import Session

from sandbox.config import Settings
from sandbox.conversations.events import InProcessBus
from sandbox.conversations.service import ConversationService
from sandbox.scenarios.library import load_library
from sandbox.storage.attempts import start_attempt
from sandbox.storage.audit import record
from sandbox.storage.database import make_engine
from sandbox.storage.models import Attempt
from sandbox.storage.users import get_user_by_name

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
LINES = [
    "Hello, are you taking any other medication?",
    "Decongestants can raise your blood pressure, so they are not suitable for you.",
    "Paracetamol is safer, no more than 4 g a day.",
    "Please see your doctor if it gets worse. Take care, goodbye!",
]


def main() -> int:
    database_url, packs, name, go_file, count = sys.argv[1:6]
    settings = Settings(database_url=database_url, packs=packs, builtin_packs=False)
    library = load_library(settings)
    found = library.find(PACK, SCENARIO)
    assert found is not None
    pack, scenario = found
    engine = make_engine(database_url)
    service = ConversationService(library=library, engine=engine, bus=InProcessBus())
    while not Path(go_file).exists():
        time.sleep(0.01)
    for number in range(int(count)):
        with Session(engine, expire_on_commit=False) as session:
            user = get_user_by_name(session=session, name=name)
            assert user is not None
            attempt = start_attempt(
                session=session,
                user=user,
                pack_id=pack.id,
                pack_version=pack.version,
                scenario_id=scenario.id,
                time_limit_s=float(scenario.time_limit_s),
                opening=scenario.opening,
            )
            record(
                session,
                actor_id=user.id,
                action="fault.write",
                subject_type="attempt",
                subject_id=attempt.id,
            )
            session.commit()
            attempt_id = attempt.id
        for index, line in enumerate(LINES):
            with Session(engine, expire_on_commit=False) as session:
                current = session.get(Attempt, attempt_id)
                assert current is not None
                if current.ended:
                    break
                service.say(session, current, line, f"{name}-{number}-{index}")
        with Session(engine, expire_on_commit=False) as session:
            current = session.get(Attempt, attempt_id)
            assert current is not None
            if not current.ended:
                service.finish(session, current)
    engine.dispose()
    print(f"done {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
