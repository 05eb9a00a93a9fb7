"""The `input` of a spec: pfs, cross, union, join, group, cron — read and checked.

Rules (Pachyderm's, said as errors): one kind per input object; cross/union/join/group list at
least one input; the inputs a datum sees side by side (cross, join, group) have distinct names
(a union's children may share one); `join_on`/`outer_join` only directly in a join, where every
pfs input has `join_on`; `group_by` only in a group (or a join inside a group), where every pfs
input has it; `$N` references name capture groups of the glob; no input is named `out`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kaon.core import ids, units
from kaon.core.errors import InvalidInput
from kaon.core.pipelines.globs import compile_glob
from kaon.core.pipelines.reader import Reader, describe_value
from kaon.core.pipelines.spec import (
    Combine,
    CombinedInput,
    CronInput,
    Input,
    PfsInput,
    Trigger,
)

_KINDS = ("pfs", "cross", "union", "join", "group", "cron")
_REF = re.compile(r"\$(?:\{(\d+)\}|(\d+))")


def as_pfs(cron: CronInput) -> PfsInput:
    """A cron input is read as its repo's branch master, all ticks' files in one datum."""
    return PfsInput(repo=cron.repo, name=cron.name, branch="master", glob="/")


def names(source: Input) -> frozenset[str]:
    """The names an input shows under /pfs."""
    if isinstance(source, PfsInput | CronInput):
        return frozenset({source.name})
    return frozenset().union(*(names(i) for i in source.inputs))


def pfs_inputs(source: Input) -> list[PfsInput | CronInput]:
    """Every pfs and cron input in it, depth first, in spec order."""
    if isinstance(source, PfsInput | CronInput):
        return [source]
    return [leaf for child in source.inputs for leaf in pfs_inputs(child)]


# pachctl's signs: vector-or-cross-product, union, bowtie (join), circled plus (group)
_SIGNS = {
    Combine.CROSS: " \u2a2f ",
    Combine.UNION: " \u222a ",
    Combine.JOIN: " \u22c8 ",
    Combine.GROUP: " \u2295 ",
}


def shorthand(source: Input | None) -> str:
    """The INPUT column of `list pipeline`, as pachctl shows it: "transform:/",
    "(transform:/ X tune:/optimal_hp.json)" with X the cross sign, "tick:@every 1h", "none"
    for a spout."""
    if source is None:
        return "none"
    if isinstance(source, PfsInput):
        branch = "" if source.branch == "master" else f"@{source.branch}"
        return f"{source.repo}{branch}:{source.glob}"
    if isinstance(source, CronInput):
        return f"{source.name}:{source.spec}"
    return "(" + _SIGNS[source.kind].join(shorthand(i) for i in source.inputs) + ")"


def references(template: str) -> list[int]:
    """The capture group numbers `$1`, `${2}` … a join_on/group_by template names."""
    return [int(a or b) for a, b in _REF.findall(template)]


def expand(template: str, groups: tuple[str, ...]) -> str:
    return _REF.sub(lambda m: groups[int(m.group(1) or m.group(2)) - 1], template)


def parse_input(r: Reader, value: Any, path: str, parents: tuple[Combine, ...] = ()) -> Input:
    got = r.fields(value, path, "input")
    if "git" in got:
        r.fail(f"{path}.git", "git inputs are not supported here: commit the code to a repo")
    if not got:
        r.fail(path, f"empty: give one of {', '.join(_KINDS)}")
    if len(got) > 1:
        r.fail(
            path,
            f"one input object holds one kind, not {' and '.join(sorted(got))}: "
            "wrap them in cross, union, join or group",
        )
    ((kind, body),) = got.items()
    at = f"{path}.{kind}"
    if kind == "pfs":
        return _pfs(r, body, at, parents)
    if kind == "cron":
        return _cron(r, body, at)
    combine = Combine(kind)
    if not isinstance(body, list) or not body:
        r.fail(
            at,
            f"expected a list of at least one input, e.g. [{{pfs: …}}, {{pfs: …}}], "
            f"got {describe_value(body)}",
        )
    children = tuple(
        parse_input(r, child, f"{at}[{i}]", (*parents, combine)) for i, child in enumerate(body)
    )
    if combine is Combine.JOIN and not all(isinstance(c, PfsInput) for c in children):
        r.fail(at, "a join's inputs are pfs inputs with join_on")
    if combine is Combine.GROUP:
        for i, c in enumerate(children):
            if not isinstance(c, PfsInput) and not (
                isinstance(c, CombinedInput) and c.kind is Combine.JOIN
            ):
                r.fail(f"{at}[{i}]", "a group's inputs are pfs inputs with group_by, or joins")
    if combine is not Combine.UNION:
        seen: dict[str, int] = {}
        for i, c in enumerate(children):
            for name in sorted(names(c)):
                if name in seen:
                    r.fail(
                        at,
                        f"inputs {seen[name]} and {i} are both named {name!r} "
                        f"(/pfs/{name}): give them distinct `name`s",
                    )
                seen[name] = i
    return CombinedInput(combine, children)


def _pfs(r: Reader, body: Any, at: str, parents: tuple[Combine, ...]) -> PfsInput:
    p = r.fields(body, at, "pfs")
    if "repo" not in p:
        r.fail(f"{at}.repo", "missing: name the repo to read")
    repo = r.checked(f"{at}.repo", ids.repo_name, r.text(p["repo"], f"{at}.repo"))
    if "glob" not in p:
        r.fail(
            f"{at}.glob",
            'missing: add glob: "/" (everything, one datum) or "/*" '
            "(one datum per top-level file or directory)",
        )
    glob = r.text(p["glob"], f"{at}.glob", empty=False)
    compiled = r.checked(f"{at}.glob", compile_glob, glob)
    name = r.text(p.get("name", repo), f"{at}.name", empty=False)
    r.checked(f"{at}.name", _input_name, name)
    parent = parents[-1] if parents else None
    in_group = parent is Combine.GROUP or (
        parent is Combine.JOIN and Combine.GROUP in parents[-2:-1]
    )
    for key, allowed, needed_in in (
        ("join_on", parent is Combine.JOIN, "a join"),
        ("outer_join", parent is Combine.JOIN, "a join"),
        ("group_by", in_group, "a group"),
    ):
        if key in p and not allowed:
            r.fail(
                f"{at}.{key}",
                f"only has an effect in {needed_in}: remove it, or put this input in {needed_in}",
            )
    join_on = _template(r, p, "join_on", at, compiled.groups, needed=parent is Combine.JOIN)
    group_by = _template(r, p, "group_by", at, compiled.groups, needed=in_group)
    branch = r.checked(
        f"{at}.branch", ids.branch_name, r.text(p.get("branch", "master"), f"{at}.branch")
    )
    return PfsInput(
        repo=repo,
        name=name,
        branch=branch,
        glob=compiled.text,
        empty_files=r.flag(p.get("empty_files", False), f"{at}.empty_files"),
        lazy=r.flag(p.get("lazy", False), f"{at}.lazy"),
        join_on=join_on,
        outer_join=r.flag(p.get("outer_join", False), f"{at}.outer_join"),
        group_by=group_by,
        trigger=_trigger(r, p["trigger"], f"{at}.trigger", branch) if "trigger" in p else None,
    )


_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP]?)[iI]?[bB]?")


def _trigger(r: Reader, body: Any, at: str, branch: str) -> Trigger:
    """Pachyderm's pfs trigger: commits and/or size (sizes as Pachyderm reads them, in
    powers of 1024: 1MB = 1Mi = 1,048,576 bytes), `all`; cron_spec and rate_limit_spec are
    refused (a cron input does timed runs)."""
    t = r.fields(body, at, "trigger")
    for key in ("cron_spec", "rate_limit_spec"):
        if key in t:
            r.fail(
                f"{at}.{key}",
                "not supported here: trigger on commits or size (a cron input runs on a schedule)",
            )
    if "branch" in t and t["branch"] != branch:
        r.fail(
            f"{at}.branch",
            f"the trigger counts the commits of the input's own branch ({branch}): remove "
            "trigger.branch, or set input.pfs.branch",
        )
    commits = r.integer(t["commits"], f"{at}.commits", least=1) if "commits" in t else 0
    size = _trigger_size(r, t["size"], f"{at}.size") if "size" in t else 0
    if not commits and not size:
        r.fail(at, "give commits (e.g. {commits: 10}) or size (e.g. {size: 1MB}), or both")
    return Trigger(commits=commits, size=size, all=r.flag(t.get("all", False), f"{at}.all"))


def _trigger_size(r: Reader, value: Any, at: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    amount = (
        int(float(match.group(1)) * 1024 ** " kmgtp".index(match.group(2).lower() or " "))
        if match
        else 0
    )
    if amount < 1:
        r.fail(at, f'expected a size such as "1MB", "500K" or 1048576, got {describe_value(value)}')
    return amount


def _template(
    r: Reader, p: Mapping[str, Any], key: str, at: str, groups: int, *, needed: bool
) -> str:
    if key not in p:
        if needed:
            what = "join" if key == "join_on" else "group"
            r.fail(
                f"{at}.{key}",
                f'missing: every input of a {what} needs {key}, e.g. "$1" '
                "(a capture group of its glob, e.g. /(*).csv)",
            )
        return ""
    template = r.text(p[key], f"{at}.{key}", empty=False)
    for n in references(template):
        if not 1 <= n <= groups:
            r.fail(
                f"{at}.{key}",
                f"${n} names no capture group: the glob has {groups} "
                "(mark them with parentheses, e.g. /(*)/(*).csv)",
            )
    return template


def _input_name(name: str) -> str:
    if name == "out":
        raise InvalidInput(
            "'out' is where the pipeline writes (/pfs/out): name the input otherwise"
        )
    try:
        return ids.repo_name(name)
    except InvalidInput:
        raise InvalidInput(
            f"invalid input name {name!r}: use 1-63 letters, digits, '_' or '-'"
        ) from None


_CRON_NAMED = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/\-]+\Z")


def check_cron(spec: str) -> str:
    """A cron schedule as Pachyderm takes it: 5 (or 6, with seconds) fields, @daily, @every 1h."""
    text = spec.strip()
    if text in _CRON_NAMED:
        return text
    if text.startswith("@every "):
        units.parse_go_duration(text.removeprefix("@every "))
        return text
    parts = text.split()
    if len(parts) in (5, 6) and all(_CRON_FIELD.match(f) for f in parts):
        return text
    raise InvalidInput(
        f'invalid cron spec {spec!r}: use e.g. "*/10 * * * *", "@daily" or "@every 1h"'
    )


def _cron(r: Reader, body: Any, at: str) -> CronInput:
    c = r.fields(body, at, "cron")
    for key in ("name", "spec"):
        if key not in c:
            r.fail(
                f"{at}.{key}",
                'missing: a cron input needs a name and a spec, e.g. {name: tick, spec: "@every 1h"}',
            )
    name = r.checked(f"{at}.name", _input_name, r.text(c["name"], f"{at}.name", empty=False))
    start = r.text(c.get("start", ""), f"{at}.start")
    if start:
        try:
            datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            r.fail(
                f"{at}.start", f"invalid time {start!r}: use RFC 3339, e.g. 2026-12-06T08:00:00Z"
            )
    repo = r.text(c.get("repo", f"{r.name}_{name}"), f"{at}.repo", empty=False)
    return CronInput(
        name=name,
        spec=r.checked(f"{at}.spec", check_cron, r.text(c["spec"], f"{at}.spec", empty=False)),
        repo=r.checked(f"{at}.repo", ids.repo_name, repo),
        overwrite=r.flag(c.get("overwrite", False), f"{at}.overwrite"),
        start=start,
    )
