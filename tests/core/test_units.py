"""Human-readable sizes and durations, pachctl style."""

from __future__ import annotations

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.units import (
    go_duration_text,
    human_duration,
    human_size,
    parse_cpu,
    parse_duration,
    parse_go_duration,
    parse_memory,
    parse_when,
    quantity_text,
    time_ago,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0B"),
        (1, "1B"),
        (258, "258B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (1536, "1.5KiB"),
        (11492000, "10.96MiB"),
        (4911530, "4.684MiB"),
        (1024**3, "1GiB"),
        (5 * 1024**4, "5TiB"),
        (2 * 1024**5, "2PiB"),
        (1024**6, "1024PiB"),
        (1048575, "1MiB"),  # 1023.999KiB rounds up: show the next unit, not "1024KiB"
        (1023.99, "1KiB"),
    ],
)
def test_human_size(n: float, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "Less than a second"),
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (150, "2 minutes"),
        (3600, "1 hour"),
        (7200, "2 hours"),
        (86400 * 3, "3 days"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0, "Less than a second ago"),
        (5, "Less than a minute ago"),
        (90, "About 1 minute ago"),
        (600, "10 minutes ago"),
        (3 * 3600, "3 hours ago"),
        (86400, "About 1 day ago"),
    ],
)
def test_time_ago(delta: float, text: str) -> None:
    assert time_ago(1000.0, 1000.0 + delta) == text


@pytest.mark.parametrize(
    "text",
    ["inf", "Inf", "NaN", "-inf", "1e400Gi", "1e3", "1_000", "99999999Ti", "0", "0.1", "", " 2Gi"],
)
def test_parse_memory_refuses_what_is_not_a_quantity(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid memory"):
        parse_memory(text)


@pytest.mark.parametrize(
    ("text", "size"), [("512Mi", 512 * 1024**2), ("2Gi", 2 * 1024**3), ("1.5G", 1_500_000_000)]
)
def test_parse_memory(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["9" * 400, "9" * 400 + "h", "inf"])
def test_parse_duration_refuses_infinity(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid duration"):
        parse_duration(text)


def test_parse_when() -> None:
    now = 1_800_000_000.0
    assert parse_when("1h", now) == now - 3600
    assert parse_when(" 90 ", now) == now - 90
    assert parse_when("2026-12-06T08:00Z", now) == 1796544000.0
    assert parse_when("2026-12-06T09:00+01:00", now) == 1796544000.0
    from datetime import datetime

    assert parse_when("2026-12-06T08:00", now) == datetime(2026, 12, 6, 8, 0).timestamp()  # local
    for bad in ("yesterday", "", "-1h", "2026-13-01"):
        with pytest.raises(InvalidInput, match="invalid time"):
            parse_when(bad, now)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h5m", 3900.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
        ("1h0m10s", 3610.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == seconds
    assert parse_go_duration(go_duration_text(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "10", "1d", "soon", "-5s", "0s", "1h 5m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid duration"):
        parse_go_duration(text)


def test_go_duration_text() -> None:
    assert [go_duration_text(s) for s in (30, 600, 3900, 3600, 0.25)] == [
        "30s",
        "10m",
        "1h5m",
        "1h",
        "0.25s",
    ]


def test_quantity_text_is_exact_and_short() -> None:
    assert [quantity_text(n) for n in (2 * 10**9, 64 * 2**20, 1500, 2**30, 1000)] == [
        "2G",
        "64Mi",
        "1500",
        "1Gi",
        "1k",
    ]
    for n in (2 * 10**9, 64 * 2**20, 1500, 2**30, 123456789):
        assert parse_memory(quantity_text(n)) == n


def test_cpu() -> None:
    assert [parse_cpu(v) for v in (1, 0.5, "2", "500m", "1.5")] == [1.0, 0.5, 2.0, 0.5, 1.5]
    for bad in ("x", 0, "-1", True, "1k"):
        with pytest.raises(InvalidInput, match="invalid cpu"):
            parse_cpu(bad)  # type: ignore[arg-type]
