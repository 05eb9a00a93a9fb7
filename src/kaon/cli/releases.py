"""A named endpoint's versions and traffic (kaon.core.releases): `kaon serve update -e petset
-m <model id> [--canary N | --shadow]`, promote, rollback, versions, feedback. Registered on
`kaon serve` by kaon.cli.serve."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import REPORTER, emit_json, info, success, table
from kaon.cli.releaseview import feedback_rows, traffic_text, version_rows
from kaon.cli.workspace import client
from kaon.core.endpoints import EndpointState
from kaon.core.errors import KaonError

if TYPE_CHECKING:
    from kaon.client.models import ReleaseInfo

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
NAMED = typer.Option(
    ...,
    "--endpoint",
    "-e",
    help="The endpoint: its name (petset), or a version's name (petset-c517ec: its endpoint).",
)
WAIT = 600.0  # seconds `update --wait` waits for the new version to take its traffic


def update(
    endpoint: str = NAMED,
    model_id: str = typer.Option(
        None, "--model_id", "--model-id", "-m", help="The new version's trained model."
    ),
    source: Path = typer.Option(
        None,
        "--source_bundle",
        "--source-bundle",
        "-s",
        help="The new version's serve bundle (default: the current version's).",
    ),
    canary: int = typer.Option(
        None,
        "--canary",
        help="Percent of the requests (1-99) the new version answers, the rest staying with "
        "the current one, until `promote` or `rollback`.",
    ),
    shadow: bool = typer.Option(
        False,
        "--shadow",
        help="Mirror every request to the new version; its answers are recorded, not returned "
        "(compare, then `promote` or `rollback`).",
    ),
    version: str = typer.Option(
        None,
        "--version",
        help="The new version's label (1-32 of a-z 0-9 . _); default: the first 6 hex of the "
        "model's data commit.",
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Wait until the new version took its traffic (exit 1 if it failed to start).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new version as JSON."),
) -> None:
    """Deploy a new version of a named endpoint. Default, a rolling update: the new version
    starts, and once it is ready all traffic moves to it; the old version then finishes its
    requests and stops (no request fails). If the new version fails to start, traffic stays
    where it was. --canary N: it answers N % of the requests; --shadow: it gets a copy of
    every request. Then `kaon serve promote -e <name>` (all traffic to it) or `kaon serve
    rollback -e <name>` (back). One change at a time: promote or roll back a pending canary
    or shadow first.

    Example: kaon serve update -e petset -m 6baa7_2f74a:e94df2 --canary 10 --wait"""
    with client() as c:
        made = c.update_endpoint(
            endpoint,
            model_id,
            source=source,
            canary=canary,
            shadow=shadow,
            version=version,
            wait=False,
            reporter=REPORTER,
        )
        release = made.release or endpoint
        how = (
            f"a canary taking {canary}% of the requests"
            if canary is not None
            else "a shadow: requests are mirrored to it"
            if shadow
            else "rolling: all traffic moves to it once it is ready"
        )
        info(f"Version {made.version} of {release} {made.state} ({how})")
        if wait:
            from kaon.client.follow import wait_version

            made = wait_version(c, made, WAIT)
            now = c.endpoint_release(release)
    if as_json:
        emit_json(made)
    if not wait:
        info(f"Follow it with `kaon serve versions -e {release}`")
        return
    if made.state in (EndpointState.FAILURE, EndpointState.KILLED):
        why = " ".join(made.reason.split()) or str(made.state)
        raise KaonError(
            f"version {made.version} of {release} did not start: {why}; traffic is unchanged "
            f"({traffic_text(now.traffic, now.shadow)}; see `kaon serve build-logs -e "
            f"{made.name}` and `kaon serve logs -e {made.name}`)"
        )
    success(f"{release}: {traffic_text(now.traffic, now.shadow)}")


def _traffic_line(release: ReleaseInfo) -> str:
    line = f"{release.name}: {traffic_text(release.traffic, release.shadow)}"
    if release.pending:
        waits = ", ".join(release.starting)
        line += f" ({release.pending}: {waits} starting; the traffic moves once ready)"
    return line


def promote(endpoint: str = NAMED, as_json: bool = JSON) -> None:
    """Give the canary (or shadow) of a named endpoint all the traffic; the other versions
    finish their requests and stop (`kaon serve versions` keeps them). Refused when one
    version already answers everything."""
    with client() as c:
        release = c.promote_endpoint(endpoint)
    if as_json:
        emit_json(release)
    else:
        success(_traffic_line(release))


def rollback(endpoint: str = NAMED, as_json: bool = JSON) -> None:
    """Put a named endpoint's traffic back as it was before its last change (update,
    promote, rollback): a canary or shadow is dropped; after a rolling update or a promote,
    the version it replaced serves again (started again if it was stopped: traffic moves
    once it is ready). Refused when there was no earlier change."""
    with client() as c:
        release = c.rollback_endpoint(endpoint)
    if as_json:
        emit_json(release)
    else:
        success(_traffic_line(release))


def versions(endpoint: str = NAMED, as_json: bool = JSON) -> None:
    """Every version a named endpoint ever had, newest first: VERSION MODEL TRAFFIC (its
    percent of the requests now, or `shadow`) STATE CREATED, and REASON (e.g. `replaced by
    d41d8c`) when one has. A stopped version keeps its provenance (`kaon serve provenance
    -e <name>-<version>`)."""
    with client() as c:
        found = c.endpoint_versions(endpoint)
    if as_json:
        emit_json(found)
        return
    table(*version_rows(found, time.time()))


def feedback(
    endpoint: str = typer.Option(
        ...,
        "--endpoint",
        "-e",
        help="The endpoint (petset: the feedback on every version's answers), or one version "
        "(petset-c517ec: only on the answers it gave).",
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """The feedback a named endpoint received, newest first: REQUEST (the answer's
    X-Request-Id, or Seldon's puid) VERSION (that answered) REWARD TRUTH PROTOCOL (kaon,
    seldon, oip) RECEIVED. --json adds the request and response. It is stored in the
    workspace's feedback repo (branch = the endpoint), one file per request."""
    with client() as c:
        found = c.endpoint_feedback(endpoint, limit)
    if as_json:
        emit_json(found)
        return
    if not found:
        info(
            f"No feedback for {endpoint} yet: POST {{request_id, reward or truth}} to "
            f"/{endpoint}/feedback, or Seldon's /api/v1.0/feedback (docs/serving.md)"
        )
        return
    table(*feedback_rows(found, time.time()))


def register(app: typer.Typer) -> None:
    app.command("update")(update)
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("versions")(versions)
    app.command("feedback")(feedback)
