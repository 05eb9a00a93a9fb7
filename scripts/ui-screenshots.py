#!/usr/bin/env python3
"""Screenshots of every page of the web UI for docs/ui.md (issue 18), never by hand.

    uv run --frozen python scripts/ui-screenshots.py [--out docs/ui] [--only overview,job]

Starts a platform in a temporary KAON_HOME, runs the seed-000 story (tests/e2e/ui/story.py:
a workspace, a data commit, a training job with a search of 3 trials, its models, an
endpoint), signs in in Debian's Chromium (headless, 1280x800) and saves one PNG per page of
PAGES in docs/ui/; then rewrites the list of images in docs/ui.md (between the
`screenshots` markers). A page that answers 404 (built on another branch) is left out, said.

To add a page: append (name, path template, one-line description) to PAGES; the template's
fields are those of `Story.fields` (workspace, job, model, other, repo, commit, endpoint)
and `pipeline`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from e2e.helpers import Kaon  # noqa: E402
from e2e.ui.conftest import CHROMIUM, DESKTOP, FLAGS, open_ui  # noqa: E402
from e2e.ui.story import seed_000  # noqa: E402

PAGES: list[tuple[str, str, str]] = [
    ("signin", "/ui/signin", "Sign-in: paste the platform's token or a user's own."),
    (
        "overview",
        "/ui/",
        "Every workspace with its recent jobs, models and endpoints, and the "
        "platform's pipelines; refreshed every 3 s.",
    ),
    ("workspace", "/ui/w/{workspace}", "One workspace: its jobs, models and endpoints."),
    ("repos", "/ui/repos", "Every repo: size, branches, last commit."),
    ("repo", "/ui/repos/{repo}", "A repo: branches and its commits, paged by the API."),
    ("commit", "/ui/repos/{repo}/commit/{commit}", "A commit: its changes and who read it."),
    ("tree", "/ui/repos/{repo}/tree/master/", "The file browser at a branch or commit."),
    (
        "file-csv",
        "/ui/repos/{repo}/tree/master/digits.csv",
        "A CSV file previewed as a table (first rows only), with download and history.",
    ),
    ("jobs", "/ui/w/{workspace}/jobs", "A workspace's jobs, live while any is unfinished."),
    (
        "search",
        "/ui/jobs/{job}",
        "A search: state, inputs, timeline, logs that follow, environment, the trials sorted "
        "by the server, the metric against each hyperparameter and parallel coordinates.",
    ),
    ("model", "/ui/w/{workspace}/models/{model}", "A model: metrics, files, job, endpoints."),
    (
        "compare",
        "/ui/w/{workspace}/compare?m={model}&m={other}",
        "Two models side by side: metrics, params, data and code differences.",
    ),
    (
        "provenance-model",
        "/ui/provenance/model/{workspace}/{model}",
        "A model's provenance, drawn by Graphviz: pan, zoom, click a node to open it.",
    ),
    (
        "provenance-endpoint",
        "/ui/provenance/endpoint/{endpoint}",
        "An endpoint's provenance, back to the data.",
    ),
    (
        "provenance-commit",
        "/ui/provenance/commit/{repo}@{commit}",
        "What a data commit was used for (subvenance).",
    ),
    (
        "endpoint",
        "/ui/endpoints/{endpoint}",
        "An endpoint: versions and traffic, replicas, rates over time, try it, feedback.",
    ),
    ("pipelines", "/ui/pipelines", "The pipelines and their DAG."),
    (
        "pipeline",
        "/ui/pipelines/{pipeline}",
        "A pipeline: its stages with their last job, the jobs of a global id, datums "
        "(failed first) with their logs.",
    ),
    (
        "missing",
        "/ui/jobs/no-such-job",
        "A link to something deleted: a clear page, not a stack trace.",
    ),
]
COUNT = """
pipeline: {{name: digits-count}}
input: {{pfs: {{repo: {repo}, glob: "/*"}}}}
transform:
  cmd: [sh, -c, "for f in /pfs/{repo}/*; do wc -l < $f > /pfs/out/$(basename $f).lines; done"]
"""


def pipeline(k: Kaon, root: Path, repo: str) -> str:
    """A one-stage pipeline over the story's repo, run once (the pipeline pages)."""
    spec = root / "count.yaml"
    spec.write_text(COUNT.format(repo=repo))
    k.ok("create", "pipeline", "-f", str(spec))
    for _ in range(600):
        jobs = k.json("list", "job", "-p", "digits-count")
        if jobs and jobs[0]["state"] in ("JOB_SUCCESS", "JOB_FAILURE"):
            break
        time.sleep(0.2)
    return "digits-count"


TALLEST = 2400  # px: a longer page is shot as its first screen only
BEGIN, END = "<!-- screenshots:begin -->", "<!-- screenshots:end -->"


def shoot(k: Kaon, fields: dict[str, str], out: Path, only: set[str]) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    done: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as shots, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            ui = open_ui(browser, k, Path(shots), DESKTOP)
            for name, template, about in PAGES:
                if only and name not in only:
                    continue
                path = template.format(**fields)
                if name == "signin":
                    ui.page.context.clear_cookies()
                response = ui.go(path)
                if response.status == 404 and name != "missing":
                    print(f"skipped {name}: {path} answers 404 (not on this branch?)")
                    continue
                height = ui.page.evaluate("document.documentElement.scrollHeight")
                target = out / f"{name}.png"
                ui.page.screenshot(path=str(target), full_page=height <= TALLEST)
                done.append((name, about))
                print(f"{target.relative_to(ROOT)}: {path} ({target.stat().st_size // 1024} KiB)")
                if name == "signin":
                    ui = open_ui(browser, k, Path(shots), DESKTOP)
        finally:
            browser.close()
    return done


def write_doc(doc: Path, done: list[tuple[str, str]], out: Path) -> None:
    text = doc.read_text()
    lines = [BEGIN]
    for name, about in done:
        image = (out / f"{name}.png").relative_to(doc.parent)
        lines += [f"### {name}", "", about, "", f"![{name}]({image})", ""]
    lines.append(END)
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(head + "\n".join(lines) + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui")
    parser.add_argument("--only", default="", help="comma-separated page names")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    only = {n for n in args.only.split(",") if n}
    home = Path(tempfile.mkdtemp(prefix="kaon-ui-shots-"))
    k = Kaon(home / "kaon")
    try:
        k.up()
        story = seed_000(k, home / "story")
        fields = story.fields | {"pipeline": pipeline(k, home, story.repo)}
        done = shoot(k, fields, out, only)
    finally:
        k.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    if not only:
        write_doc(ROOT / "docs" / "ui.md", done, out)
    print(f"{len(done)} pages shot into {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
