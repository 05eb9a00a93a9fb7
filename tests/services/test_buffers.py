"""BufferPool: buffers are reused, bounded in count and size."""

from __future__ import annotations

from kaon.services.buffers import BufferPool


def test_a_returned_buffer_is_reused() -> None:
    pool = BufferPool(pooled=1024, keep=2)
    with pool.borrow(100) as first:
        first[:3] = b"abc"
    with pool.borrow(50) as again:
        assert again is first and len(again) >= 100


def test_concurrent_borrows_get_distinct_buffers_and_keep_is_bounded() -> None:
    pool = BufferPool(pooled=1024, keep=1)
    with pool.borrow(10) as a, pool.borrow(10) as b:
        assert a is not b
    with pool.borrow(10) as c, pool.borrow(10) as d:
        reused = [x for x in (c, d) if any(x is y for y in (a, b))]
        assert len(reused) == 1  # only one of the two was kept


def test_large_buffers_are_not_pooled() -> None:
    pool = BufferPool(pooled=1024, keep=4)
    with pool.borrow(4096) as big:
        assert len(big) == 4096
    with pool.borrow(4096) as other:
        assert other is not big
