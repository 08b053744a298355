"""The garbage collector in a serving process: what the start built is left out of its scans.

Python's cyclic collector now and then scans every object that has lived long (its oldest
generation). A served app holds a large, unchanging heap built at start: pack models and
compiled matchers, SQLAlchemy's mappers and caches, the templates, TextBlob's lexicon. With
1,000 open chats those scans took 100 to 260 ms each, and every reply waiting behind one
waited that long (bench/load.py; docs/performance.md). `settle_heap` collects once and
freezes what is left: the collector never scans those objects again (they are still freed
by reference counting when released), so a full scan covers only what the conversations
themselves hold. Called by `sandbox serve` once the app is built; tests do not freeze.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect, then keep every object alive now out of the collector's future scans."""
    gc.collect()
    gc.freeze()
