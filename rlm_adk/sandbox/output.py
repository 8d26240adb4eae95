"""Bounded capture of printed output: keeps the head and the tail, counts what was cut."""

from __future__ import annotations

import collections


class OutputBuffer:
    """Collects text up to `max_chars`: the first half and the last half are kept."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._head: list[str] = []
        self._head_len = 0
        self._tail: collections.deque[str] = collections.deque()
        self._tail_len = 0
        self.total = 0

    def write(self, text: str) -> None:
        if not text:
            return
        self.total += len(text)
        head_room = self.max_chars // 2 - self._head_len
        if head_room > 0:
            piece = text[:head_room]
            self._head.append(piece)
            self._head_len += len(piece)
            text = text[head_room:]
        if not text:
            return
        tail_cap = self.max_chars - self.max_chars // 2
        text = text[-tail_cap:]
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len - len(self._tail[0]) >= tail_cap:
            self._tail_len -= len(self._tail.popleft())

    @property
    def cut(self) -> int:
        """Characters dropped from the middle."""
        return max(0, self.total - self.max_chars)

    def getvalue(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)
        if self.total <= self.max_chars:
            return head + tail
        self.max_chars - self.max_chars // 2
        tail = tail[-(self.max_chars - len(head)) :]
        return f"{head}\n[... {self.cut:,} characters of output cut ...]\n{tail}"
