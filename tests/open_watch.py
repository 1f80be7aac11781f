"""See every open of chosen files, by any code in any process: inotify (Linux) through ctypes.

A Python audit hook only sees opens made from Python; the C++ inside onnx (external data) would slip past
it. The kernel's inotify sees an open or a read of a watched file whoever makes it. Used by the security
tests and by ``benchmarks/bench_large.py`` (which watches the 1 GB weights file).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys

AVAILABLE = sys.platform.startswith("linux")


class OpenWatch:
    """Records IN_OPEN / IN_ACCESS events on ``paths`` from creation until :meth:`close` (Linux only)."""

    IN_ACCESS, IN_OPEN, IN_NONBLOCK = 0x1, 0x20, 0o4000

    def __init__(self, paths: list[str]) -> None:
        if not AVAILABLE:
            raise OSError("inotify needs Linux")
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.watches: dict[int, str] = {}
        for path in paths:
            wd = self.libc.inotify_add_watch(self.fd, path.encode(), self.IN_OPEN | self.IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
            self.watches[wd] = path

    def events(self) -> list[str]:
        """The events since the last call, as ``"<path> mask=0x…"``."""
        seen = []
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return seen
            offset = 0
            while offset < len(data):
                wd, mask, _, length = struct.unpack_from("iIII", data, offset)
                seen.append(f"{self.watches.get(wd)} mask={mask:#x}")
                offset += 16 + length

    def close(self) -> None:
        os.close(self.fd)
