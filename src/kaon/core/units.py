"""Human-readable sizes and durations, as pachctl prints them (10.96MiB, 2 minutes ago)."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from kaon.core.errors import InvalidInput

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


_QUANTITY = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(|k|K|M|G|T|Ki|Mi|Gi|Ti)\Z")
MAX_MEMORY = 1024**5  # 1024Ti: more is no limit (and past 2**63 bytes the kernel refuses it)


def parse_memory(text: str) -> int:
    """Kubernetes-style memory quantities: 512Mi, 2Gi, 1G, 1500000 (bytes), up to 1024Ti."""
    match = _MEMORY.match(text)
    amount = int(Fraction(match.group(1)) * _QUANTITY[match.group(2)]) if match else 0
    if not 1 <= amount <= MAX_MEMORY:
        raise InvalidInput(
            f"invalid memory {text!r}: use a size from 1 byte to 1024Ti, e.g. 512Mi, 2Gi or 1G"
        )
    return amount


def parse_duration(text: str) -> float:
    """Durations like 90, 90s, 10m, 1h, 1h30m (seconds when no unit)."""
    value = text.strip().lower()
    total = 0.0
    number = ""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        for ch in value:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in units and number:
                total += float(number) * units[ch]
                number = ""
            else:
                raise ValueError(ch)
        if number:
            total += float(number)
    except ValueError:
        total = 0
    if not 0 < total < math.inf:
        raise InvalidInput(f"invalid duration {text!r}: use e.g. 90s, 10m, 1h or 1h30m")
    return total


def parse_when(text: str, now: float) -> float:
    """A moment as Unix seconds: a duration before `now` (30m, 1h, 2d) or an ISO 8601 date
    and time (2026-12-06T08:00, local time unless it names its zone: ...Z, ...+01:00)."""
    from datetime import datetime

    value = text.strip()
    try:
        return now - parse_duration(value)
    except InvalidInput:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"invalid time {text!r}: use a duration before now (30m, 1h, 2d) or a date and "
            "time (2026-12-06T08:00, or 2026-12-06T08:00Z for UTC)"
        ) from None
    return moment.timestamp()  # a naive one is local time


def memory_text(n: int) -> str:
    """A byte count the way `--memory` takes it: 512Mi, 2Gi, 1536Ki, 1000 (bytes)."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        if n >= _QUANTITY[unit] and n % _QUANTITY[unit] == 0:
            return f"{n // _QUANTITY[unit]}{unit}"
    return human_size(n) if n >= 1024 else str(n)


_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """A Go/Pachyderm duration as seconds: "30s", "10m", "1h5m", "1.5h", "500ms"."""
    value = text.strip()
    pos, total = 0, 0.0
    while pos < len(value):
        match = _GO_DURATION.match(value, pos)
        if match is None:
            total = 0.0
            break
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if not 0 < total < math.inf:
        raise InvalidInput(f'invalid duration {text!r}: use e.g. "30s", "10m" or "1h5m"')
    return total


def go_duration_text(seconds: float) -> str:
    """The Go-style text of a duration, read back exactly by parse_go_duration: "1h5m", "30s"."""
    if seconds != int(seconds):
        return f"{seconds!r}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def quantity_text(n: int) -> str:
    """A byte count as the shortest exact Kubernetes quantity: 2G, 64Mi, 1500."""
    for unit in ("Ti", "T", "Gi", "G", "Mi", "M", "Ki", "k"):
        if n >= _QUANTITY[unit] and n % _QUANTITY[unit] == 0:
            return f"{n // _QUANTITY[unit]}{unit}"
    return str(n)


_CPU = re.compile(r"([0-9]*\.?[0-9]+)(m?)\Z")


def parse_cpu(value: str | float) -> float:
    """Kubernetes CPU: 1, 0.5, "2", "500m" (millicores) as a number of cores (> 0)."""
    if isinstance(value, bool):
        amount = 0.0
    elif isinstance(value, int | float):
        amount = float(value)
    else:
        match = _CPU.match(value.strip())
        amount = float(match.group(1)) / (1000 if match.group(2) else 1) if match else 0.0
    if not 0 < amount < math.inf:
        raise InvalidInput(f'invalid cpu {value!r}: use a number of cores, e.g. 1, 0.5 or "500m"')
    return amount
