"""Big reusable buffers: anonymous, page aligned, backed by huge pages where the kernel lets us.

A 16 MiB buffer in 4 KiB pages costs 4,096 page faults the first time it is filled (on this kind
of VM each first touch is also a host fault); in 2 MiB pages, 8. Alignment also suits O_DIRECT.
"""

from __future__ import annotations

import contextlib
import mmap


def huge_buffer(size: int) -> mmap.mmap:
    buffer = mmap.mmap(-1, size)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is not None:
        with contextlib.suppress(OSError):  # no transparent huge pages here: small pages
            buffer.madvise(advice)
    return buffer
