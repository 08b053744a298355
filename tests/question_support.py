"""A small question bank of the tests' own (ids and tags no bundled bank uses), and helpers
to post answers as the pages do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web_support import csrf_token

TEST_BANK = """\
bank:
  id: test-written
  title: Test bank
  locale: en
  trade: pharmacy
questions:
  - id: tw-single
    type: single
    tags: [tw-core]
    prompt: Which one raises blood pressure?
    options:
      - {text: Pseudoephedrine, correct: true}
      - {text: Saline spray}
      - {text: Honey}
    explanation: Decongestants can raise blood pressure.
  - id: tw-tf
    type: true_false
    tags: [tw-core]
    prompt: Ibuprofen is safe with warfarin.
    answer: false
    explanation: NSAIDs raise the bleeding risk with warfarin.
  - id: tw-multi
    type: multiple
    tags: [tw-core]
    prompt: Which are filler risks?
    options:
      - {text: Swelling, correct: true}
      - {text: Bruising, correct: true}
      - {text: Blue eyes}
    explanation: Swelling and bruising are common.
  - id: tw-short
    type: short
    tags: [tw-core]
    prompt: What is the adult daily maximum of paracetamol?
    match: [4 g, four grams, 4000 mg]
    examples:
      - {answer: 4 g a day, correct: true}
      - {answer: no limit, correct: false}
    explanation: 4 g a day for adults.
  - id: tw-manual
    type: short
    tags: [tw-core]
    points: 2
    prompt: Insulin arrived warm. What do you do?
    manual: true
    model_answer: Do not use it; arrange a cold-chain replacement.
    explanation: Insulin is kept at 2-8 degrees.
  - id: tw-extra
    type: true_false
    tags: [tw-other]
    prompt: A prescription-only medicine may be sold without a prescription.
    answer: false
    explanation: It needs a valid prescription.
"""


def write_bank(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test-written.yaml"
    path.write_text(TEST_BANK, "utf-8")
    return folder


def positions(html: str) -> dict[str, int]:
    """Question id -> position on a page, read from the stored order (the page's data)."""
    import re

    return {
        m.group(2): int(m.group(1))
        for m in re.finditer(r'data-position="(\d+)" data-question="([a-z0-9-]+)"', html)
    }


def answer(
    client: TestClient,
    page_url: str,
    action: str,
    position: int,
    value: Any,
    *,
    script: bool = False,
) -> Any:
    page = client.get(page_url)
    values = value if isinstance(value, list) else [value]
    data: dict[str, Any] = {
        "csrf_token": csrf_token(page.text),
        "position": str(position),
        "answer": [str(v) for v in values],
    }
    headers = {"X-Autosave": "1"} if script else {}
    return client.post(action, data=data, headers=headers, follow_redirects=False)
