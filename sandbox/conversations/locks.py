"""One lock per attempt, held while a turn runs and its frames are queued; kept only in use.

Two tabs of one conversation (or a tab and the exam timer) never interleave a turn. A lock
exists while someone holds it or waits for it, and is dropped with its last user, so a
server that has run a million conversations does not keep a million locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass
class _Entry:
    lock: asyncio.Lock
    users: int = 0


class AttemptLocks:
    """The per-attempt locks of one process."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        # Test clients run apps in threads of their own: keep the bookkeeping atomic.
        self._guard = threading.Lock()

    @contextlib.asynccontextmanager
    async def hold(self, attempt_id: int) -> AsyncIterator[None]:
        """Hold the attempt's lock for the duration of the block."""
        with self._guard:
            entry = self._entries.get(attempt_id)
            if entry is None:
                entry = self._entries[attempt_id] = _Entry(asyncio.Lock())
            entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0 and self._entries.get(attempt_id) is entry:
                    del self._entries[attempt_id]

    def locked(self, attempt_id: int) -> bool:
        """Whether a turn of the attempt runs now."""
        entry = self._entries.get(attempt_id)
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        return len(self._entries)
