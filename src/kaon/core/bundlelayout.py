"""The layout of a bundle, written once: the client checks a folder before sending it, the
server checks what arrived and finds what to run, with the same rules.

    source bundle   an executable `train` (the shallowest file of that name; the kaos layout
                    puts it in <bundle>/<name>/model/train) starting with a '#!' line, and a
                    requirements.txt beside it or at the bundle's root; or, with no `train`
                    file, a notebook `train.ipynb` (run by papermill: NOTEBOOK_TOOLS are added
                    to its requirements)
    serve bundle    a model.py (the shallowest; load_ctx(model_dir), predict(payload, ctx))
                    and a requirements.txt found the same way
    data bundle     any files

"Shallowest" is a breadth-first search in name order that skips hidden folders (.git, .venv);
two `train` files at the shallowest depth are refused. The rules are pure: a folder tree is
read through a `Listing`, a local directory on the client, a stored tree on the server.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

TRAIN = "train"  # a source bundle's entry point
NOTEBOOK = "train.ipynb"  # a source bundle's entry point when it has no `train`
NOTEBOOK_TOOLS = ("papermill", "ipykernel")  # added to a notebook bundle's requirements
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")  # a requirement line's project name
SERVE_MODULE = "model.py"  # a serve bundle's module
REQUIREMENTS = "requirements.txt"
SHEBANG = b"#!"
EXECUTABLES = (TRAIN, "serve")  # made executable again when a bundle is fetched

Folder = TypeVar("Folder")
Listing = Callable[[Folder], Iterable[tuple[str, Folder | None]]]
"""The entries of a folder: (name, its sub-folder, or None for a file)."""


@dataclass(frozen=True)
class Entrypoint:
    """Where `train` sits in a source bundle, and its requirements."""

    folder: str  # bundle-relative folder holding `train`, "" for the root
    requirements: str  # bundle-relative path of requirements.txt
    notebook: bool = False  # the entry is `train.ipynb`, run by papermill


def with_notebook_tools(requirements: str) -> str:
    """`requirements` with papermill and ipykernel added when it does not name them."""
    named = set()
    for line in requirements.splitlines():
        found = _NAME.match(line)
        if found:
            named.add(found.group(1).lower().replace("_", "-"))
    missing = [tool for tool in NOTEBOOK_TOOLS if tool not in named]
    if not missing:
        return requirements
    head = requirements if not requirements or requirements.endswith("\n") else requirements + "\n"
    return head + "".join(f"{tool}\n" for tool in missing)


def runs_papermill(cmd: Iterable[str]) -> bool:
    """Whether a pipeline transform's `cmd` runs a notebook with papermill (`papermill ...`
    or `python -m papermill ...`): its environment then gets NOTEBOOK_TOOLS."""
    words = list(cmd)
    if words and words[0].rsplit("/", 1)[-1] == "papermill":
        return True
    return any(a == "-m" and b == "papermill" for a, b in itertools.pairwise(words))


def shallowest(root: Folder, listing: Listing[Folder], name: str) -> list[str]:
    """The bundle-relative folders ("" for the root, else "a/b/") holding a file `name`, at the
    shallowest depth where any does (in name order); hidden folders are not searched."""
    level: list[tuple[str, Folder]] = [("", root)]
    while level:
        found: list[str] = []
        deeper: list[tuple[str, Folder]] = []
        for prefix, folder in level:
            for entry, sub in sorted(listing(folder), key=lambda e: e[0]):
                if sub is None:
                    if entry == name:
                        found.append(prefix)
                elif not entry.startswith("."):
                    deeper.append((f"{prefix}{entry}/", sub))
        if found:
            return found
        level = deeper
    return []


def requirements_candidates(folder: str) -> tuple[str, str]:
    """Where the requirements of the code in `folder` ("" or "a/b/") may be, in order: beside
    it, then at the bundle's root."""
    return f"{folder}{REQUIREMENTS}", REQUIREMENTS


def has_shebang(head: bytes) -> bool:
    """Whether a file starting with `head` names its interpreter (`train` must)."""
    return head[: len(SHEBANG)] == SHEBANG


def is_executable(name: str, head: bytes) -> bool:
    """Whether a fetched bundle's file gets its executable bit back (the store keeps contents,
    not modes): `train`, `serve` and every script starting with '#!'."""
    return name in EXECUTABLES or has_shebang(head)
