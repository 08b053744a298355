"""The catalogue's search: words of a scenario's title, brief or pack title, any case,
all of them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from sandbox.storage.models import User


def shown(client: TestClient, q: str) -> set[str]:
    page = client.get("/", params={"q": q}).text
    found = {part.split('"')[0] for part in page.split('id="scenario-')[1:]}
    return found - {"list"}


def test_search_by_words_of_title_or_brief(
    browsers: Callable[[str], TestClient], people: dict[str, User]
) -> None:
    tao = browsers("tao")
    everything = shown(tao, "")
    assert len(everything) >= 2
    assert shown(tao, "BLOOD pressure") == {"pharmacy-basics--cold-remedy-hypertension"}
    assert shown(tao, "insulin") == {"pharmacy-basics--late-insulin-delivery"}
    assert shown(tao, "insulin blood") == set()
    assert shown(tao, "哺乳期") == {"aesthetics-consult-zh--botox-breastfeeding"}
    page = tao.get("/", params={"q": "insulin"}).text
    assert 'id="filter-q"' in page and 'value="insulin"' in page
