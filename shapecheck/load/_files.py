"""Reading a model file with a size limit, and nothing but a regular file.

A linter run in CI on downloaded files must not be made to read without end: a symlink to
``/dev/zero`` or a FIFO named ``model.onnx`` has no size to check beforehand and would be read forever
(a FIFO would even block the open). So the file is opened non-blocking, ``fstat`` must say it is a
regular file no larger than the limit, and at most ``limit + 1`` bytes are read — a file that grows
between the check and the read is caught too.
"""

from __future__ import annotations

import os
import stat

from shapecheck.errors import LoadError

__all__ = ["read_model_bytes"]


def read_model_bytes(path: str, limit: int, kind: str) -> bytes:
    """The bytes of ``path``; a :class:`LoadError` if it is not a regular file or exceeds ``limit``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise LoadError(f"cannot read the file: {error.strerror or error}", path=path) from None
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise LoadError("not a regular file (a directory, device or pipe is never read as a model)",
                                path=path)
            if info.st_size > limit:
                raise LoadError(_too_large(info.st_size, limit, kind), path=path)
            # Ask for the size fstat gives (plus one byte, to see a file that grew): ``read(limit + 1)``
            # would have Python allocate the whole limit (2 GB) up front for a 5 MB file.
            data = handle.read(min(limit, info.st_size) + 1)
            if len(data) > info.st_size:
                data += handle.read(limit + 1 - len(data))
        except OSError as error:
            raise LoadError(f"cannot read the file: {error.strerror or error}", path=path) from None
    if len(data) > limit:
        raise LoadError(_too_large(len(data), limit, kind), path=path)
    return data


def _too_large(size: int, limit: int, kind: str) -> str:
    return (f"the file is {size} bytes, above the limit of {limit} bytes for {kind} models "
            "(raise it with --max-file-size or [tool.shapecheck] max-file-size)")
