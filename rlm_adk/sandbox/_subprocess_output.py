"""Printed output of a `SubprocessSandbox` child, split into cells.

The child's stdout and stderr share one pipe. At the end of each cell the child writes a marker the
host chose for that cell; everything before it belongs to the cell, everything after to the next.
"""

from __future__ import annotations

import asyncio
import codecs

from rlm_adk.sandbox.output import OutputBuffer


class CellOutput:
    """Decodes the pipe's bytes into bounded per-cell buffers."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.buffer = OutputBuffer(max_chars)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = bytearray()
        self._marker: bytes | None = None
        self._finished: asyncio.Future[OutputBuffer] | None = None

    def expect(self, marker: bytes) -> asyncio.Future[OutputBuffer]:
        """Watches for `marker`; the future gets the cell's output when the marker arrives."""
        self._marker = marker
        self._finished = asyncio.get_running_loop().create_future()
        return self._finished

    def take(self) -> OutputBuffer:
        """The output so far, for a cell whose marker will not come; later output starts afresh."""
        self._marker = None
        buffer, self.buffer = self.buffer, OutputBuffer(self.max_chars)
        return buffer

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Reads `stream` to its end (when every process holding the pipe is gone)."""
        while data := await stream.read(1 << 16):
            self.feed(data)
        self.feed(b"", final=True)

    def feed(self, data: bytes, final: bool = False) -> None:
        self._pending += data
        while self._marker is not None:
            at = self._pending.find(self._marker)
            if at < 0:
                break
            self._emit(self._pending[:at], final=True)
            del self._pending[: at + len(self._marker)]
            finished = self.take()
            if self._finished is not None and not self._finished.done():
                self._finished.set_result(finished)
        # Holds back the bytes that may begin a marker split across reads.
        keep = 0 if final or self._marker is None else len(self._marker) - 1
        cut = max(0, len(self._pending) - keep)
        if cut or final:
            self._emit(self._pending[:cut], final=final)
            del self._pending[:cut]

    def _emit(self, data: bytes | bytearray, final: bool) -> None:
        self.buffer.write(self._decoder.decode(bytes(data), final))
