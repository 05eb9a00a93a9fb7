"""Graphs drawn for the pages (provenance, a pipeline's DAG): Graphviz's `dot -Tsvg`, inlined
in the page so its nodes' links open kaon pages; svg-pan-zoom (static/graph.js) pans and zooms.

Graphviz escapes every label into XML text, so the SVG carries user data only as text; it is
still checked for anything active (a script, an event handler, a `javascript:` link) before it
is inlined, and refused (the page shows the text instead) if it has any.

Drawings are kept (least recently used dropped, at most KEEP_BYTES) by their DOT source: a
page seen again skips `dot`, whose start alone costs ~0.1 s on a busy machine; a graph that
changed (a new node, a job's state) is a new source, so it is drawn again.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from urllib.parse import quote

from markupsafe import Markup

from kaon.core.errors import BackendUnavailable, KaonError

KEEP_BYTES = 32 * 1024 * 1024  # of drawings kept
TIMEOUT = 20.0  # s: `dot` on the bounded graphs the pages draw takes well under one
_ACTIVE = re.compile(r"<\s*(script|foreignObject|iframe)|<[^>]*\son\w+\s*=|javascript:", re.I)
_DIMENSIONS = re.compile(r'<svg width="[^"]*" height="[^"]*"')


def available() -> bool:
    return shutil.which("dot") is not None


def dot_str(text: str) -> str:
    """`text` as a double-quoted DOT string (quotes, backslashes and newlines escaped)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", "\\n")
    return f'"{out}"'


def link(*parts: str) -> str:
    """A page's path under /ui/ from its parts, each quoted (safe in DOT, in a URL)."""
    return "/ui/" + "/".join(quote(p, safe="@:") for p in parts)


def with_urls(dot: str, urls: dict[str, str], tooltips: dict[str, str]) -> str:
    """DOT source `dot` (one digraph) with URL (opened in the page itself) and tooltip added
    to the nodes named in `urls` / `tooltips` (a node's attributes may be set again later)."""
    body = dot.rstrip().removesuffix("}")
    lines = []
    for node in sorted(set(urls) | set(tooltips)):
        attrs = []
        if node in urls:
            attrs.append(f'URL={dot_str(urls[node])}, target="_top"')
        if node in tooltips:
            attrs.append(f"tooltip={dot_str(tooltips[node])}")
        lines.append(f"  {dot_str(node)} [{', '.join(attrs)}];")
    return body + "\n".join(lines) + "\n}\n"


class _Kept:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._items: OrderedDict[str, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Markup | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: Markup) -> None:
        with self._lock:
            if key in self._items or len(value) > self._limit:
                return
            self._items[key] = value
            self._size += len(value)
            while self._size > self._limit:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


_KEPT = _Kept(KEEP_BYTES)


def svg(dot: str) -> Markup:
    """`dot` drawn as inline SVG (sized by its container); BackendUnavailable without
    Graphviz, KaonError when `dot` fails or draws anything active."""
    key = hashlib.sha256(dot.encode()).hexdigest()
    kept = _KEPT.get(key)
    if kept is not None:
        return kept
    drawn = _draw(dot)
    _KEPT.put(key, drawn)
    return drawn


def _draw(dot: str) -> Markup:
    exe = shutil.which("dot")
    if exe is None:
        raise BackendUnavailable(
            "Graphviz is not installed on the server, so the graph is shown as text "
            "(apt-get install graphviz draws it)"
        )
    try:
        done = subprocess.run(
            [exe, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise KaonError(f"Graphviz took over {TIMEOUT:g} s to draw this graph") from None
    if done.returncode != 0:
        problem = done.stderr.decode(errors="replace").strip()[:300]
        raise KaonError(f"Graphviz could not draw this graph: {problem}")
    text = done.stdout.decode(errors="replace")
    start = text.find("<svg")
    if start < 0 or _ACTIVE.search(text):
        raise KaonError("Graphviz's drawing was refused (it held active content)")
    text = _DIMENSIONS.sub("<svg", text[start:], count=1)  # the container sizes it
    return Markup(text)  # Graphviz escaped every label into text; checked above
