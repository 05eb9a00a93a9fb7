"""What the release commands print (pure: no typer, no I/O): `kaon serve list`'s rows, the
versions the API lists (one EndpointInfo each) grouped into one row per endpoint (release)
with the version(s) that answer in a VERSION cell (`c517ec`, or during a canary `c517ec 90%`
/ `d41d8c 10%`, a shadow `d41d8c shadow`, a version still starting `d41d8c starting`); the
tables of `kaon serve versions` and `kaon serve feedback`; traffic as one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from kaon.client.follow import killed, never_started
from kaon.core.endpoints import EndpointState
from kaon.core.errors import KaonError
from kaon.core.units import time_ago

if TYPE_CHECKING:
    from kaon.client.models import EndpointInfo, FeedbackInfo, ReleaseInfo, VersionInfo


class Releases(Protocol):
    def endpoint_release(self, name: str) -> ReleaseInfo: ...


@dataclass(frozen=True)
class Row:
    name: str  # the release (what -e and -i address)
    main: EndpointInfo  # the version whose state, url, author and reason the row shows
    cell: str  # the VERSION cell
    versions: list[EndpointInfo]  # the versions behind the row (--json)
    created: float


@dataclass
class Listing:
    building: list[Row] = field(default_factory=list)
    up: list[Row] = field(default_factory=list)
    gone: list[Row] = field(default_factory=list)
    hidden: bool = False  # killed endpoints were left out (no --all)


def _short(state: str) -> str:
    return EndpointState(state).value.removeprefix("PIPELINE_").lower()


def version_cell(
    live: Sequence[EndpointInfo], traffic: dict[str, int], shadow: str | None
) -> tuple[str, str]:
    """(the VERSION cell, the label of the version with the most traffic) of a release's
    live versions under `traffic`."""
    weights = {v: w for v, w in traffic.items() if w > 0}
    ranked = sorted(weights, key=lambda v: (-weights[v], v))
    lines = [f"{v} {weights[v]}%" if len(ranked) > 1 else v for v in ranked]
    if shadow:
        lines.append(f"{shadow} shadow")
    lines += [
        f"{v.version} {_short(v.state)}"
        for v in live
        if v.version not in weights and v.version != shadow and not killed(v)
    ]
    return "\n".join(lines), ranked[0] if ranked else ""


def _by_release(endpoints: Sequence[EndpointInfo]) -> dict[str, list[EndpointInfo]]:
    groups: dict[str, list[EndpointInfo]] = {}
    for e in endpoints:
        groups.setdefault(e.release or e.name, []).append(e)
    return groups


def _traffic(releases: Releases, name: str) -> tuple[dict[str, int], str | None] | None:
    try:
        found = releases.endpoint_release(name)
    except KaonError:  # gone meanwhile: the rows as they are
        return None
    return dict(found.traffic), found.shadow


def row_of(
    name: str,
    versions: list[EndpointInfo],
    traffic: Callable[[str], tuple[dict[str, int], str | None] | None],
) -> tuple[str, Row]:
    """(building | up | gone, the row) of release `name` and its listed `versions`."""
    newest = max(versions, key=lambda v: v.created)
    created = min(v.created for v in versions)
    live = [v for v in versions if not killed(v)]
    if not live:
        return "gone", Row(name, newest, newest.version, versions, created)
    if all(never_started(v) for v in live):
        main = max(live, key=lambda v: v.created)
        cell = "\n".join(v.version for v in live)
        return "building", Row(name, main, cell, live, created)
    if len(live) == 1:
        return "up", Row(name, live[0], live[0].version, live, created)
    found = traffic(name)
    started = [v for v in live if not never_started(v)]
    if found is None:
        cell, top = "\n".join(f"{v.version} {_short(v.state)}" for v in live), ""
    else:
        cell, top = version_cell(live, *found)
    main = next((v for v in live if v.version == top), started[-1])
    return "up", Row(name, main, cell, live, created)


def listing(releases: Releases, endpoints: Sequence[EndpointInfo], show_all: bool) -> Listing:
    """The rows of `kaon serve list` (killed endpoints only with `show_all`); the traffic
    of a release is asked for only when more than one of its versions is live."""
    out = Listing()
    for name, versions in _by_release(endpoints).items():
        kind, row = row_of(name, versions, lambda n: _traffic(releases, n))
        if show_all:
            row = replace(row, versions=versions)  # --json: the killed versions too
        if kind == "gone" and not show_all:
            out.hidden = True
            continue
        {"building": out.building, "up": out.up, "gone": out.gone}[kind].append(row)
    return out


def traffic_text(traffic: dict[str, int], shadow: str | None) -> str:
    """`c517ec 90%, d41d8c 10%` (+ `, shadow d41d8c`)."""
    ranked = sorted(traffic.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{v} {w}%" for v, w in ranked if w > 0)
    return f"{text}, shadow {shadow}" if shadow else text


def version_rows(versions: list[VersionInfo], now: float) -> tuple[list[str], list[list[str]]]:
    """`kaon serve versions`: VERSION MODEL TRAFFIC STATE CREATED (+ REASON when one has)."""
    headers = ["VERSION", "MODEL", "TRAFFIC", "STATE", "CREATED"]
    rows = [
        [
            v.version,
            v.model_id or "-",
            "shadow" if v.shadow else f"{v.traffic}%",
            str(v.state),
            time_ago(v.created, now),
        ]
        for v in versions
    ]
    if any(v.reason for v in versions):
        headers.append("REASON")
        for row, v in zip(rows, versions, strict=True):
            row.append(" ".join(v.reason.split())[:80])
    return headers, rows


def _cut(value: Any, width: int = 40) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def feedback_rows(found: list[FeedbackInfo], now: float) -> tuple[list[str], list[list[str]]]:
    """`kaon serve feedback`: REQUEST VERSION REWARD TRUTH PROTOCOL RECEIVED."""
    headers = ["REQUEST", "VERSION", "REWARD", "TRUTH", "PROTOCOL", "RECEIVED"]
    rows = [
        [
            f.request_id,
            f.version,
            "-" if f.reward is None else f"{f.reward:g}",
            _cut(f.truth),
            f.protocol,
            time_ago(f.received, now),
        ]
        for f in found
    ]
    return headers, rows
