"""Planning a job's datums from its input commits; datum ids and hashes; version salts.

    plan(source, listing_of, salt) -> list[Datum]
    stream(source, listing_of, salt) -> Iterator[Datum]   (the same, lazily where it can)

- `source`: the spec's `input`. `listing_of(pfs)` gives the commit a pfs input reads as a
  `globs.Listing` (None: its branch has no commit yet: that input has no datum). A cron input
  is read as `inputs.as_pfs(cron)` (its repo's master, glob "/").
- pfs: one datum per glob match (a directory match sees everything below it);
  `empty_files` is carried into `DatumFile.empty`.
- cross: the cartesian product of the children's datums (a child with none: no datum).
- union: the children's datums one after the other (a child with none adds none; a datum
  planned twice is kept once).
- join: pfs children matched by their `join_on` value (the glob's capture groups expanded);
  a value gives datums (the product of each child's matches for it) when every child has it,
  or when a child that has it is `outer_join` (the missing children then add nothing).
- group: one datum per `group_by` value, holding every match of every child with that value
  (a join inside a group: each join datum's value is its files' `group_by`).

Order: pfs matches by path; cross in product order (first child slowest); union child by
child; join and group by key (sorted). The order is stable: the same commits give the same
list. Datum id = blake3 over (input name, repo, branch, path) of its files, sorted; hash =
blake3(id, each file's digest, salt): the same files at the same content under the same
version are skipped. `salt(spec_doc, source_tree_digest, lock_id, nonce)` hashes a version.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import blake3

from kaon.core.jobs import canonical_json
from kaon.core.pipelines.datums import Datum, DatumFile
from kaon.core.pipelines.globs import Listing, Match, compile_glob
from kaon.core.pipelines.inputs import as_pfs, expand
from kaon.core.pipelines.spec import Combine, CombinedInput, CronInput, Input, PfsInput

ListingOf = Callable[[PfsInput], Listing | None]
Files = tuple[DatumFile, ...]


def plan(source: Input, listing_of: ListingOf, salt: str) -> list[Datum]:
    """The datums of one job (see the module docstring)."""
    with no_gc():  # 200,000 datums are ~1M objects: the cycle collector would cost ~40%
        return list(stream(source, listing_of, salt))


def stream(source: Input, listing_of: ListingOf, salt: str) -> Iterator[Datum]:
    """plan()'s datums, in its order, one by one: a lone pfs input whose glob has one path
    segment yields its first datum before the last file is looked at (a job starts its
    first datums while the rest are planned); any other input is planned whole first."""
    if isinstance(source, PfsInput):  # one file per datum, never twice
        yield from _pfs_datums(source, listing_of, salt)
        return
    yield from _datums(source, listing_of, salt)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cycle collector off (planning makes ~1M objects that hold no cycle)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _datums(source: Input, listing_of: ListingOf, salt: str) -> list[Datum]:
    seen: set[str] = set()
    out: list[Datum] = []
    for files in _plan(source, listing_of):
        datum = make_datum(files, salt)
        if datum.id not in seen:
            seen.add(datum.id)
            out.append(datum)
    return out


def make_datum(files: Iterable[DatumFile], salt: str) -> Datum:
    ordered = tuple(files)
    if len(ordered) == 1:  # most datums: the same hashes as datum_id/datum_hash, inline
        f = ordered[0]
        key = f"{f.input}\0{f.repo}\0{f.branch}\0{f.path}"
        ident = blake3.blake3(key.encode()).hexdigest()
        mark = "\0e" if f.empty else ""
        digest = blake3.blake3(f"{ident}\0{f.digest}{mark}\0{salt}".encode()).hexdigest()
    else:
        ordered = tuple(sorted(ordered, key=_order))
        ident = datum_id(ordered)
        digest = datum_hash(ident, ordered, salt)
    datum: Datum = _new(Datum)  # as in _file: the hot path
    datum.__dict__.update(id=ident, hash=digest, files=ordered)
    return datum


def _order(f: DatumFile) -> tuple[str, str]:
    return (f.input, f.path)


def datum_id(files: Iterable[DatumFile]) -> str:
    """blake3 of (input name, repo, branch, path) of each file, sorted; NUL-separated (no
    name or path holds a NUL)."""
    keys = sorted((f.input, f.repo, f.branch, f.path) for f in files)
    return blake3.blake3("\0".join("\0".join(k) for k in keys).encode()).hexdigest()


def datum_hash(datum_id: str, files: Iterable[DatumFile], salt: str) -> str:
    """blake3 of the id, each file's digest (sorted by input and path; `e` marks an
    empty_files input) and the version's salt."""
    digests = "\0".join(f.digest + ("\0e" if f.empty else "") for f in sorted(files, key=_order))
    return blake3.blake3(f"{datum_id}\0{digests}\0{salt}".encode()).hexdigest()


def salt(
    spec_doc: Mapping[str, Any], source_tree_digest: str, lock_id: str, nonce: str = ""
) -> str:
    """A pipeline version's salt: its spec document, code (source tree) and environment (lock)
    — and a nonce for a forced reprocess (`--reprocess`, `reprocess_spec: every_job`)."""
    parts = [canonical_json(dict(spec_doc)), source_tree_digest, lock_id, nonce]
    return blake3.blake3(canonical_json(parts).encode()).hexdigest()


def describe(datum: Datum) -> str:
    """For logs: "images:/a.png, model:/model.h5"."""
    return ", ".join(f"{f.input}:{f.path}" for f in datum.files)


def _plan(source: Input, listing_of: ListingOf) -> list[Files]:
    if isinstance(source, CronInput):
        source = as_pfs(source)
    if isinstance(source, PfsInput):
        return [(f,) for f, _ in _pfs(source, listing_of)]
    if source.kind is Combine.CROSS:
        product: list[Files] = [()]
        for child in source.inputs:
            datums = _plan(child, listing_of)
            product = [a + b for a in product for b in datums]
            if not product:
                break
        return product
    if source.kind is Combine.UNION:
        return [d for child in source.inputs for d in _plan(child, listing_of)]
    if source.kind is Combine.JOIN:
        return [files for _, files in _join(source, listing_of)]
    return _group(source, listing_of)


def _pfs(source: PfsInput, listing_of: ListingOf) -> list[tuple[DatumFile, tuple[str, ...]]]:
    listing = listing_of(source)
    if listing is None:
        return []
    return [
        (_file(source, listing.commit, m), m.groups)
        for m in compile_glob(source.glob).match(listing)
    ]


def _file(source: PfsInput, commit: str, m: Match) -> DatumFile:
    # the hot path (200,000 datums for one `/*` over 200,000 files): filling the frozen
    # dataclass's __dict__ directly is 3x faster than its __init__ (no validation is skipped)
    f: DatumFile = _new(DatumFile)
    f.__dict__.update(
        {
            "input": source.name,
            "repo": source.repo,
            "branch": source.branch,
            "commit": commit,
            "path": m.path,
            "digest": m.entry.digest,
            "size": m.entry.size,
            "is_dir": m.entry.is_dir,
            "empty": source.empty_files,
        }
    )
    return f


def _pfs_datums(source: PfsInput, listing_of: ListingOf, salt: str) -> Iterator[Datum]:
    """A lone pfs input's datums: make_datum((file,), salt) for each match, in one loop."""
    listing = listing_of(source)
    if listing is None:
        return
    prefix = f"{source.name}\0{source.repo}\0{source.branch}\0"
    tail = ("\0e" if source.empty_files else "") + "\0" + salt
    hasher = blake3.blake3
    for m in compile_glob(source.glob).stream(listing):
        f = _file(source, listing.commit, m)
        ident = hasher((prefix + m.path).encode()).hexdigest()
        datum: Datum = _new(Datum)
        datum.__dict__.update(
            {
                "id": ident,
                "hash": hasher(f"{ident}\0{m.entry.digest}{tail}".encode()).hexdigest(),
                "files": (f,),
            }
        )
        yield datum


_new = object.__new__


def _keyed(
    source: PfsInput, template: str, listing_of: ListingOf
) -> dict[str, list[tuple[DatumFile, tuple[str, ...]]]]:
    """The input's matches by the value of `template` (join_on or group_by)."""
    out: dict[str, list[tuple[DatumFile, tuple[str, ...]]]] = {}
    for f, groups in _pfs(source, listing_of):
        out.setdefault(expand(template, groups), []).append((f, groups))
    return out


def _join(source: CombinedInput, listing_of: ListingOf) -> list[tuple[str, Files]]:
    """(group_by value of its first input's file, files) of every join datum."""
    children = [c for c in source.inputs if isinstance(c, PfsInput)]
    keyed = [_keyed(c, c.join_on, listing_of) for c in children]
    out: list[tuple[str, Files]] = []
    for key in sorted(set().union(*keyed)):
        present = [i for i, k in enumerate(keyed) if key in k]
        if len(present) < len(keyed) and not any(children[i].outer_join for i in present):
            continue
        for combo in itertools.product(*(keyed[i][key] for i in present)):
            group_by = children[present[0]].group_by
            value = expand(group_by, combo[0][1]) if group_by else ""
            out.append((value, tuple(f for f, _ in combo)))
    return out


def _group(source: CombinedInput, listing_of: ListingOf) -> list[Files]:
    by_key: dict[str, list[DatumFile]] = {}
    for child in source.inputs:
        if isinstance(child, PfsInput):
            for key, matched in _keyed(child, child.group_by, listing_of).items():
                by_key.setdefault(key, []).extend(f for f, _ in matched)
        elif isinstance(child, CombinedInput):
            for key, files_ in _join(child, listing_of):
                by_key.setdefault(key, []).extend(files_)
    return [tuple(dict.fromkeys(by_key[k])) for k in sorted(by_key)]
