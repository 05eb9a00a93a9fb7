"""The repo pages in Debian's Chromium: the list, branches and commits paged, the file browser
with a preview per kind (CSV, JSON, PNG, a notebook, a CSV too big to read whole), downloads,
a diff, a file's history, a missing path and a wrong ref."""

from __future__ import annotations

import importlib.util
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from .conftest import PHONE, Ui, open_ui

REPO = "uirepos"
EVIL = "<script>alert('commit')</script>"
MORE = 55  # commits after the files: more than a page (50)


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (red pixels), made here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {},
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Analysis\n", "Some *notes* <script>x()</script>"],
        },
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "source": ["print('hello from the notebook')"],
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["hello from the notebook\n"]}
            ],
        },
        {
            "cell_type": "code",
            "execution_count": 2,
            "metadata": {},
            "source": "plot()",
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "image/png": __import__("base64").b64encode(png()).decode(),
                        "text/plain": "<Figure>",
                    },
                }
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def data(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repo with a CSV, a big CSV, a JSON, a PNG and a notebook, then MORE commits (through
    the SDK, to be quick) and a change of the CSV, so the commits take two pages."""
    folder = tmp_path_factory.mktemp("uirepos")
    files = {
        "table.csv": b"name,score\nada,3\nbob,5\ncyd,8\n",
        "big.csv": b"i,square\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(20_000)),
        "config.json": json.dumps({"lr": 0.1, "layers": [64, 32]}).encode(),
        "img/dot.png": png(),
        "nb/analysis.ipynb": json.dumps(NOTEBOOK).encode(),
        "nb/rows.parquet": b"PAR1 not really: only its preview's message is looked at PAR1",
    }
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    kaon.ok("create", "repo", REPO, "-d", "files for the UI")
    kaon.ok("create", "repo", "uirepos-nomaster")  # listed too, with its one branch's head
    (folder / "x.txt").write_text("x\n")
    kaon.ok(
        "put", "file", "uirepos-nomaster@dev:/x.txt", "-f", str(folder / "x.txt"), "-m", "on dev"
    )
    (folder / "x.txt").unlink()
    kaon.ok("put", "file", f"{REPO}@master:/", "-r", "-f", str(folder), "-m", EVIL)
    with kaon.client() as client:
        first = client.list_commits(REPO, "master", limit=1)[0]
        counter = folder / "counter.txt"
        for i in range(MORE):
            counter.write_text(f"{i}\n")
            client.put(f"{REPO}@master:/counter.txt", counter, message=f"count {i}")
        (folder / "table.csv").write_bytes(b"name,score\nada,4\nbob,5\ncyd,8\ndee,1\n")
        last = client.put(f"{REPO}@master:/table.csv", folder / "table.csv", message="rescore")
    return {"files": files, "first": first.id, "last": last.commit.id}


def test_repos_list_and_commits_in_pages(ui: Ui, data: dict[str, Any]) -> None:
    ui.go("/ui/repos")
    row = ui.page.locator("tr", has=ui.page.locator(f"a[href='/ui/repos/{REPO}']"))
    assert "files for the UI" in row.inner_text() and "rescore" in row.inner_text()
    other = ui.page.locator("tr", has=ui.page.locator("a[href='/ui/repos/uirepos-nomaster']"))
    assert "dev" in other.inner_text() and "on dev" in other.inner_text()
    ui.shot("repos")
    ui.follow(row.locator(f"a[href='/ui/repos/{REPO}']"))
    assert ui.page.locator("table.branches td", has_text="master").count() == 1
    first_page = ui.page.locator("table.commits tbody tr")
    assert first_page.count() == 50
    assert "rescore" in first_page.first.inner_text()
    ui.shot("repo")
    ui.follow("a.next")
    rows = ui.page.locator("table.commits tbody tr")
    assert rows.count() == MORE + 2 - 50  # the files' commit, 55 counts, the rescore
    last = rows.last.inner_text()
    assert EVIL in last  # shown as text: escaped, never run
    assert ui.page.locator("a.next").count() == 0
    assert rows.last.locator("a").first.inner_text() == data["first"][:12]
    ui.follow(rows.last.locator("a").first)
    assert ui.page.locator("table.changes tbody tr").count() == len(data["files"])
    assert (
        "No job has read this commit" in ui.page.locator("section", has_text="Read by").inner_text()
    )
    assert ui.page.locator("a", has_text="Provenance").get_attribute("href") == (
        f"/ui/provenance/commit/{REPO}@{data['first']}"
    )
    ui.shot("commit")


def test_file_browser_previews_and_downloads(ui: Ui, data: dict[str, Any]) -> None:
    ui.go(f"/ui/repos/{REPO}/tree/master")
    names = ui.page.locator("table.files tbody td:first-child").all_inner_texts()
    assert names == ["big.csv", "config.json", "counter.txt", "img/", "nb/", "table.csv"]
    ui.shot("tree")
    ui.follow("text=table.csv")
    assert ui.page.locator("table.data th").all_inner_texts() == ["name", "score"]
    assert ui.page.locator("table.data tbody tr").count() == 4
    assert "showing 4 of 4 rows" in ui.page.locator(".note").inner_text()
    ui.shot("file-csv")
    download = ui.page.locator("a.download").get_attribute("href")
    got = ui.page.request.get(ui.base + download)
    assert got.status == 200 and got.body() == b"name,score\nada,4\nbob,5\ncyd,8\ndee,1\n"
    assert "attachment" in got.headers["content-disposition"]

    ui.go(f"/ui/repos/{REPO}/tree/master/big.csv")
    assert ui.page.locator("table.data tbody tr").count() == 50
    note = ui.page.locator(".note").inner_text()
    size = len(data["files"]["big.csv"])
    assert "showing the first 50 rows" in note and "KiB file" in note
    assert str(size) in ui.page.locator(".file-facts").inner_text()

    ui.go(f"/ui/repos/{REPO}/tree/master/config.json")
    assert json.loads(ui.page.locator("pre.text").inner_text()) == {"lr": 0.1, "layers": [64, 32]}
    assert '\n  "lr": 0.1' in ui.page.locator("pre.text").inner_text()  # pretty-printed

    ui.go(f"/ui/repos/{REPO}/tree/master/img/dot.png")
    image = ui.page.locator(".preview img.image")
    assert image.evaluate("i => i.complete && i.naturalWidth") == 3
    got = ui.page.request.get(ui.base + image.get_attribute("src"))
    assert got.headers["content-type"] == "image/png" and got.body() == png()
    ui.shot("file-png")

    ui.go(f"/ui/repos/{REPO}/tree/master/nb/analysis.ipynb")
    assert ui.page.locator(".cell.markdown h1").inner_text() == "Analysis"
    assert "<script>x()</script>" in ui.page.locator(".cell.markdown").inner_text()
    assert ui.page.locator(".cell.markdown script").count() == 0
    assert ui.page.locator(".cell.code .in pre").first.inner_text() == (
        "print('hello from the notebook')"
    )
    assert "hello from the notebook" in ui.page.locator("pre.output").first.inner_text()
    assert ui.page.locator("img.output").evaluate("i => i.complete && i.naturalWidth") == 3
    ui.shot("file-notebook")

    if importlib.util.find_spec("pyarrow") is None:  # the server's venv is this one
        ui.go(f"/ui/repos/{REPO}/tree/master/nb/rows.parquet")
        note = ui.page.locator(".preview.parquet-missing .note").inner_text()
        assert "pyarrow is not installed" in note and f"kaon get {REPO}@" in note
        assert ui.page.locator(".preview a", has_text="download it").count() == 1


def test_diff_and_history_of_a_file(ui: Ui, data: dict[str, Any]) -> None:
    ui.go(f"/ui/repos/{REPO}/diff?old={data['first']}&new={data['last']}")
    changes = ui.page.locator("table.changes tbody tr").all_inner_texts()
    assert any("counter.txt" in c and "added" in c for c in changes)
    assert any("table.csv" in c and "modified" in c for c in changes)
    diffs = ui.page.locator("pre.diff").all_inner_texts()
    assert any("-ada,3" in d and "+ada,4" in d and "+dee,1" in d for d in diffs)
    ui.shot("diff")
    ui.go(f"/ui/repos/{REPO}/history/master/table.csv")
    rows = ui.page.locator("table.revisions tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert "rescore" in rows[0] and "modified" in rows[0]
    assert "added" in rows[1] and EVIL in rows[1]
    ui.shot("history")
    ui.go(f"/ui/repos/{REPO}/history/master/counter.txt")  # 55 revisions: two pages
    assert ui.page.locator("table.revisions tbody tr").count() == 30
    ui.follow("a.next")
    assert ui.page.locator("table.revisions tbody tr").count() == MORE - 30
    assert "count 0" in ui.page.locator("table.revisions tbody tr").last.inner_text()


def test_a_missing_path_or_repo_and_a_wrong_ref(ui: Ui, data: dict[str, Any]) -> None:
    for path, status, says in (
        (f"/ui/repos/{REPO}/tree/master/nothing/here.csv", 404, "no such file"),
        ("/ui/repos/nosuchrepo", 404, "nosuchrepo"),
        (f"/ui/repos/{REPO}?branch=gone", 404, "branch 'gone' not found"),
        (f"/ui/repos/{REPO}/commit/{'f' * 32}", 404, "no commit"),
        (f"/ui/repos/{REPO}/tree/no:such:ref", 400, "no:such:ref"),
        (f"/ui/repos/{REPO}/diff", 400, "?new=COMMIT"),
    ):
        response = ui.go(path)
        assert response.status == status, path
        text = ui.page.locator(".problem-page").inner_text()
        assert says in text, (path, text)
        assert "Traceback" not in ui.page.content()
    ui.shot("missing")
    ui.errors.clear()  # the browser logs each 4xx page itself as a failed resource


def test_usable_on_a_phone(browser: Any, kaon: Kaon, data: dict[str, Any], tmp_path: Path) -> None:
    phone = open_ui(browser, kaon, tmp_path / "screenshots", PHONE)
    try:
        for path in (f"/ui/repos/{REPO}", f"/ui/repos/{REPO}/tree/master/nb/analysis.ipynb"):
            phone.go(path)
            width = phone.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
        phone.shot("repo-phone")
        assert phone.errors == []
    finally:
        phone.page.context.close()
