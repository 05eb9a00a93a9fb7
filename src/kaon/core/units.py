"""Human-readable sizes and durations, as pachctl prints them (10.96MiB, 2 minutes ago)."""

from __future__ import annotations

_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def human_size(n: int | float) -> str:
    value = float(n)
    for unit in _UNITS:
        text = f"{value:.4g}"
        if abs(float(text)) < 1024 or unit == _UNITS[-1]:  # 1023.99 shows as 1KiB, not 1024B
            return f"{text}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    if seconds < 1:
        return "Less than a second"
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {name}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")


def time_ago(then: float, now: float) -> str:
    delta = now - then
    if delta < 1:
        return "Less than a second ago"
    if delta < 60:
        return "Less than a minute ago"
    text = human_duration(delta)
    return ("About " if text.startswith(("1 ", "an ")) else "") + text + " ago"
