"""The web UI: server-rendered pages at `/ui/` on the API port (issue 18; docs/ui.md).

Stack (docs/architecture.md "Web UI"): Jinja2 templates rendered by the server, htmx for the
live parts (logs that follow, lists that refresh, kill buttons), Apache ECharts for charts and
Graphviz's SVG (with svg-pan-zoom) for provenance graphs. The three libraries are vendored in
`static/vendor/` at pinned versions from the npm registry (static/vendor/VENDOR.json says which,
with their sha256; `scripts/ui-assets.sh` refreshes them), so a fresh clone needs no build step.

**The UI is a client of the REST API, like the CLI.** A page handler gets a `kaon.client.Client`
for the signed-in user (`kaon.ui.session.client(request)`: the token from the session cookie,
the server's own URL) and calls the SDK — never services, the database or the store
(import-linter: "The web UI uses only the SDK"). Whatever a page shows, the API answers; if a
page needs something the API lacks, add it to the API and the SDK first.

Pages: one module per area in `kaon.ui.pages` (each a FastAPI `APIRouter` named `router`, listed
in `kaon.ui.app.PAGES`), templates in `templates/<area>/`, all extending `base.html`:

    pages/signin.py      /ui/signin, /ui/signout                 (sign-in with a token)
    pages/home.py        /ui/  /ui/w/<workspace>                 workspaces overview
    pages/repos.py       /ui/repos/...                           branches, commits, files, diff
    pages/jobs.py        /ui/jobs/<id>, /ui/w/<ws>/jobs          jobs, searches, trials, charts
    pages/models.py      /ui/w/<ws>/models/...                   models, compare
    pages/provenance.py  /ui/provenance/...                      the graph
    pages/endpoints.py   /ui/endpoints/...                       versions, traffic, try-it
    pages/pipelines.py   /ui/pipelines/...                       the DAG, jobs, datums

Rules: every page is a plain GET link (bookmarkable); writes (kill, try-it) are POST forms
(SameSite=Strict cookie); Jinja2 autoescapes everything (never `|safe` on user data); a kaon
error becomes a page saying what failed (kaon.ui.render.error_page), a missing thing a 404 page
("it may have been deleted"), a refused token the sign-in page. Tables list what the matching
CLI command shows, and more; long lists are paged by the API, never loaded whole.
"""
