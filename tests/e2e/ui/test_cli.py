"""`kaon ui`: the URL of the current platform's web UI, opened in a browser unless --no-open;
never a failure when no browser can open."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from ..helpers import Kaon, free_port

QUIET = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": ""}


def test_kaon_ui_prints_the_url_of_the_platform(kaon: Kaon) -> None:
    doc = kaon.server()
    assert doc is not None
    out = json.loads(kaon.ok("ui", "--no-open", "--json", env=QUIET))
    assert out == {"url": f"{doc['url']}/ui/", "opened": False}
    with urllib.request.urlopen(out["url"]) as r:  # no session: the sign-in page
        assert r.url.endswith("/ui/signin?next=/ui/") and "Sign in" in r.read().decode()
    assert kaon.ok("ui", "--no-open", env=QUIET).strip() == out["url"]


def test_kaon_ui_opens_the_browser_and_never_fails_without_one(kaon: Kaon, tmp_path: Path) -> None:
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {seen}\n')
    browser.chmod(0o755)
    out = json.loads(kaon.ok("ui", "--json", env={**QUIET, "BROWSER": str(browser)}))
    assert out["opened"] is True
    assert seen.read_text().split() == [out["url"]]

    p = kaon.run("ui", env=QUIET)  # a server with no screen: the URL, and what to do
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == out["url"]
    assert "No browser could be opened here" in p.stderr
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    p = kaon.run("ui", env={**QUIET, "BROWSER": str(broken)})
    assert p.returncode == 0 and "No browser could be opened" in p.stderr


def test_kaon_ui_says_when_the_platform_does_not_answer(kaon: Kaon) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    kaon.fails(3, "ui", "--no-open", env={**QUIET, "KAON_ENDPOINT": dead}, match="127.0.0.1")
