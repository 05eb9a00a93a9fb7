"""A file's preview on the repo pages, by kind: CSV as a table, Parquet as a table (when pyarrow
is on the server), images, JSON pretty-printed, text, Jupyter notebooks rendered. Only the first
bytes are read (ranged reads through the SDK), so a huge file costs what its preview shows."""

from __future__ import annotations

import base64
import binascii
import csv
import importlib
import importlib.util
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from kaon.client import Client

HEAD = 64 * 1024  # bytes of a text, JSON or CSV file read for its preview
ROWS = 50  # rows of a table shown
NOTEBOOK_MAX = 8 * 1024 * 1024  # a bigger notebook is not rendered (download it)
IMAGE_MAX = 20 * 1024 * 1024  # a bigger image is not shown inline
IMAGES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
TEXTS = {"txt", "md", "py", "yaml", "yml", "toml", "cfg", "ini", "log", "sh", "jsonl", "xml"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_B64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")


@dataclass
class Preview:
    """What the template shows: `kind` picks the block (table, image, json, text, notebook,
    parquet-missing, binary, too-big), `size` is the file's, `note` says what part is shown."""

    kind: str
    size: int
    note: str = ""
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)


def extension(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.rpartition(".")[2].lower() if "." in name else ""


def media_type(path: str) -> str:
    """The Content-Type a file is served with: images as themselves (shown inline), everything
    else as bytes to download (never HTML or SVG from a repo in the UI's origin)."""
    return IMAGES.get(extension(path), "application/octet-stream")


def preview(client: Client, repo: str, ref: str, path: str, size: int) -> Preview:
    ext = extension(path)
    if ext in IMAGES:
        if size > IMAGE_MAX:
            return Preview("too-big", size, f"an image of {_kib(size)}: download it to see it")
        return Preview("image", size)
    if ext == "ipynb":
        return _notebook(client, repo, ref, path, size)
    if ext in ("parquet", "pq"):
        return _parquet(client, repo, ref, path, size)
    data, size = client.read_range(repo, ref, path, 0, HEAD) if size else (b"", 0)
    whole = len(data) >= size
    if ext in ("csv", "tsv"):
        return _table(data, size, whole, "\t" if ext == "tsv" else ",")
    if b"\0" in data[:8192] and ext not in TEXTS:
        return Preview("binary", size, "a binary file: download it")
    text = data.decode("utf-8", "replace")
    if not whole:
        text = text.rstrip("\ufffd")  # a character cut at the end of the range
    if ext == "json" and whole:
        try:
            return Preview("json", size, text=json.dumps(json.loads(text), indent=2))
        except ValueError:
            pass  # shown as text: it is what it is
    note = "" if whole else f"the first {_kib(len(data))} of {_kib(size)}"
    return Preview("text", size, note, text=text)


def _table(data: bytes, size: int, whole: bool, delimiter: str) -> Preview:
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the last line read may be cut
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    shown = body[:ROWS]
    if whole:
        note = f"showing {len(shown)} of {len(body)} rows"
    else:
        note = f"showing the first {len(shown)} rows of a {_kib(size)} file"
    return Preview("table", size, note, header=header, rows=shown)


def _parquet(client: Client, repo: str, ref: str, path: str, size: int) -> Preview:
    if importlib.util.find_spec("pyarrow") is None:
        return Preview(
            "parquet-missing",
            size,
            "this server cannot read Parquet (pyarrow is not installed on it): download the "
            f"file, or `kaon get {repo}@{ref}:{path}` and read it with pandas or pyarrow",
        )
    pq: Any = importlib.import_module("pyarrow.parquet")  # optional: only when installed

    source = _RangeFile(client, repo, ref, path, size)
    table = pq.ParquetFile(source)
    total = table.metadata.num_rows
    batch = next(table.iter_batches(batch_size=ROWS), None)
    header = [str(n) for n in table.schema_arrow.names]
    rows = [[str(v) for v in row.values()] for row in (batch.to_pylist() if batch else [])]
    return Preview("table", size, f"showing {len(rows)} of {total} rows", header=header, rows=rows)


class _RangeFile(io.RawIOBase):
    """A file in a repo as a seekable file read by ranges (what pyarrow needs for Parquet:
    the footer at the end, then the first row group; never the whole file)."""

    def __init__(self, client: Client, repo: str, ref: str, path: str, size: int) -> None:
        self._args = (repo, ref, path)
        self._client = client
        self._size = size
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._at, self._size)[whence]
        self._at = max(0, base + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._at)
        if want <= 0:
            return 0
        data, _ = self._client.read_range(*self._args, self._at, want)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def _notebook(client: Client, repo: str, ref: str, path: str, size: int) -> Preview:
    if size > NOTEBOOK_MAX:
        return Preview("too-big", size, f"a notebook of {_kib(size)}: download it to open it")
    data, size = client.read_range(repo, ref, path, 0, max(size, 1))
    try:
        doc = json.loads(data)
        cells = [_cell(c) for c in doc.get("cells", [])]
    except (ValueError, AttributeError, TypeError):
        return Preview(
            "text",
            size,
            "not a notebook Jupyter can read: shown as text",
            text=data[:HEAD].decode("utf-8", "replace"),
        )
    return Preview("notebook", size, f"{len(cells)} cells", cells=cells)


def _cell(cell: dict[str, Any]) -> dict[str, Any]:
    kind = str(cell.get("cell_type", "raw"))
    source = _joined(cell.get("source", ""))
    if kind == "markdown":
        return {"kind": kind, "html": _markdown(source)}
    outputs = [_output(o) for o in cell.get("outputs", []) or [] if isinstance(o, dict)]
    count = cell.get("execution_count")
    return {"kind": kind, "source": source, "count": count, "outputs": outputs}


def _output(out: dict[str, Any]) -> dict[str, Any]:
    kind = out.get("output_type")
    if kind == "stream":
        return {"text": _joined(out.get("text", ""))}
    if kind == "error":
        trace = "\n".join(str(x) for x in out.get("traceback", []))
        return {"error": _ANSI.sub("", trace) or f"{out.get('ename')}: {out.get('evalue')}"}
    data = out.get("data", {}) if isinstance(out.get("data"), dict) else {}
    for mime in ("image/png", "image/jpeg", "image/gif"):
        raw = _joined(data.get(mime, ""))
        if raw and _B64.match(raw):
            try:
                base64.b64decode(raw, validate=False)
            except binascii.Error:
                continue
            return {"image": f"data:{mime};base64,{''.join(raw.split())}"}
    return {"text": _joined(data.get("text/plain", ""))}


def _markdown(source: str) -> Markup:
    """Markdown as HTML with raw HTML turned off: markdown-it escapes every character of the
    text and refuses javascript: links, so the result is safe to put in the page as is."""
    from markdown_it import MarkdownIt

    return Markup(MarkdownIt("commonmark", {"html": False}).render(source))


def _joined(value: Any) -> str:
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def _kib(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
