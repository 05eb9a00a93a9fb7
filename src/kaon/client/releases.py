"""The SDK's calls about named, versioned endpoints (docs/serving.md, "Versions and
traffic"), mixed into `Client`: a new version of an endpoint (rolling, canary or shadow),
promote, rollback, its versions and traffic, the feedback it received.

    endpoint = client.wait(client.serve("demo", source="serve", model_id=m1, name="petset"))
    v2 = client.update_endpoint("petset", m2, canary=10, wait=True)   # 90 % / 10 %
    client.promote_endpoint("petset")                                  # v2: 100 %
    client.rollback_endpoint("petset")                                 # back to 90 / 10
    [(v.version, v.traffic, v.state) for v in client.endpoint_versions("petset")]

A pipeline's release stage deploys or updates with the job's token (`Client.from_env()`):
try `serve(..., name=)`, and on Conflict (the name exists) `update_endpoint`.

The examples run as tests (tests/client/test_releases_doctests.py) against a real server,
with `client` connected to it, a workspace `demo`, two models `m1` and `m2` trained there and
the serve bundle `serve/` in the working directory (tests/client/examples.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kaon.client.models import EndpointInfo
from kaon.client.reporter import QUIET, Reporter
from kaon.client.rest import RestApi
from kaon.core.errors import InvalidInput
from kaon.core.jobs import model_id as check_model_id
from kaon.core.releases import canary_weight, version_label
from kaon.wire import FeedbackInfo, RatesInfo, ReleaseInfo, VersionInfo

if TYPE_CHECKING:
    from kaon.client.deploy import Bundle

UPDATE_WAIT = 600.0  # seconds `update_endpoint(wait=True)` waits for the new version at most


def _q(name: str) -> str:
    return quote(name, safe="")


def check_update(
    model_id: str | None, source: object, canary: int | None, shadow: bool, version: str | None
) -> None:
    """What `update_endpoint` is given, checked before anything is sent."""
    if model_id is None and source is None:
        raise InvalidInput(
            "nothing to update: give the new version's model (-m <model id>) and/or serve "
            "bundle (-s <folder>)"
        )
    if model_id is not None:
        check_model_id(model_id)
    if canary is not None:
        canary_weight(canary)
        if shadow:
            raise InvalidInput(
                "give --canary N or --shadow, not both: a canary answers N % of the requests, "
                "a shadow answers none (its answers are only recorded)"
            )
    if version is not None:
        version_label(version)


class ReleasesApi(RestApi):
    # versions and traffic ------------------------------------------------------------------
    def update_endpoint(
        self,
        name: str,
        model_id: str | None = None,
        *,
        source: Bundle | None = None,
        canary: int | None = None,
        shadow: bool = False,
        version: str | None = None,
        wait: bool = False,
        reporter: Reporter = QUIET,
    ) -> EndpointInfo:
        """A new version of endpoint `name` (`kaon serve update`): the model `model_id`
        served by `source` (a local serve bundle folder, uploaded, or an existing bundle;
        default: the current version's bundle). Rolling (default): traffic moves to it once
        it is ready, then the old version drains and stops. `canary` N (1-99): it answers N %
        of the requests until `promote_endpoint` or `rollback_endpoint`. `shadow`: requests
        are mirrored to it, its answers recorded, not returned. `version`: its label
        (default: the model's data commit prefix). Returns the new version (STARTING); with
        `wait`, once it took its traffic (or failed: its `state` and `reason`; the traffic is
        then unchanged), at most UPDATE_WAIT seconds.

        Conflict while a canary or shadow is pending (promote or rollback first), or when
        `version` names an existing version with other inputs; InvalidInput on a bad
        `canary` (0, 100, 150...), before anything is sent.

        >>> v1 = client.serve("demo", source="serve", model_id=m1, name="pets", version="v1")
        >>> v1 = client.wait(v1)
        >>> v1.name, v1.release, v1.version, v1.state == EndpointState.RUNNING
        ('pets-v1', 'pets', 'v1', True)
        >>> v2 = client.update_endpoint("pets", m2, canary=10, version="v2", wait=True)
        >>> v2.name, client.endpoint_release("pets").traffic
        ('pets-v2', {'v1': 90, 'v2': 10})
        >>> client.update_endpoint("pets", m2, canary=150)
        Traceback (most recent call last):
        ...
        kaon.core.errors.InvalidInput: invalid --canary 150: a percentage from 1 to 99 ...
        """
        from kaon.client import bundles, deploy
        from kaon.client.follow import wait_version

        check_update(model_id, source, canary, shadow, version)
        folder = deploy.local_folder(source)
        if folder is not None:
            bundles.check_serve(folder)  # a bad folder fails before anything is sent
        body: dict[str, Any] = {"model_id": model_id, "shadow": shadow}
        if canary is not None:
            body["canary"] = canary
        if version is not None:
            body["version"] = version
        if source is not None:
            current = self.get_endpoint(name)  # an unknown endpoint fails before any upload
            bundle = deploy.serve_bundle(self, current.workspace, source, model_id, reporter)
            body["source"] = {"kind": "serve", "branch": bundle.branch, "ref": bundle.commit}
        doc = self._json("POST", f"/v1/endpoints/{_q(name)}/versions", json_body=body)
        made = EndpointInfo.from_doc(doc)
        return wait_version(self, made, UPDATE_WAIT) if wait else made

    def rollback_endpoint(self, name: str) -> ReleaseInfo:
        """The traffic of endpoint `name` back to what it was before its last change
        (`kaon serve rollback`): a canary or shadow is dropped, a promoted or rolled-out
        version gives way to the one it replaced (started again from what it served, if it
        was stopped; traffic moves once it is ready). InvalidInput when there is no earlier
        traffic.

        >>> client.rollback_endpoint("pets").traffic  # the canary v2 is dropped
        {'v1': 100}
        """
        return ReleaseInfo.from_doc(self._json("POST", f"/v1/endpoints/{_q(name)}/rollback"))

    def promote_endpoint(self, name: str) -> ReleaseInfo:
        """The canary (or shadow) of endpoint `name` takes 100 % of the requests; the other
        versions drain and stop (`kaon serve promote`). InvalidInput when there is nothing
        to promote (one version serves everything).

        >>> v3 = client.update_endpoint("pets", m2, shadow=True, version="v3", wait=True)
        >>> client.endpoint_release("pets").shadow
        'v3'
        >>> client.promote_endpoint("pets").traffic
        {'v3': 100}
        """
        return ReleaseInfo.from_doc(self._json("POST", f"/v1/endpoints/{_q(name)}/promote"))

    def endpoint_versions(self, name: str) -> list[VersionInfo]:
        """Every version endpoint `name` ever had, newest first, stopped ones included, with
        each one's share of the traffic now (`kaon serve versions`).

        >>> [(v.version, v.traffic, v.shadow) for v in client.endpoint_versions("pets")]
        [('v3', 100, False), ('v2', 0, False), ('v1', 0, False)]
        """
        docs = self._json("GET", f"/v1/endpoints/{_q(name)}/versions")
        return [VersionInfo.from_doc(d) for d in docs]

    def endpoint_release(self, name: str) -> ReleaseInfo:
        """Endpoint `name` as a whole: its traffic (version -> percent), shadow, what
        rollback returns to, its versions. `name` may be a version's name
        (petset-c517ec): its endpoint's.

        >>> found = client.endpoint_release("pets-v3")
        >>> found.name, found.url.endswith("/pets/invocations"), found.previous
        ('pets', True, {'v1': 100})
        """
        return ReleaseInfo.from_doc(self._json("GET", f"/v1/endpoints/{_q(name)}/release"))

    def endpoint_feedback(self, name: str, limit: int = 100) -> list[FeedbackInfo]:
        """The feedback endpoint `name` received, newest first, at most `limit` (1-10,000):
        each with the request, the response, the reward and/or truth and the version that
        answered (`kaon serve feedback`).

        >>> status, headers, body = client.predict("pets", b"[2]", "application/json")
        >>> status, headers["x-kaon-version"], json.loads(body)
        (200, 'v3', {'result': [2]})
        >>> client.endpoint_feedback("pets")  # none sent yet (POST /pets/feedback)
        []
        """
        if isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"invalid limit {limit!r}: give 1 to 10000")
        docs = self._json("GET", f"/v1/endpoints/{_q(name)}/feedback", params={"limit": limit})
        return [FeedbackInfo.from_doc(d) for d in docs]

    def endpoint_rates(self, name: str, minutes: float = 60) -> RatesInfo:
        """Requests/s, errors/s, mean and p95 latency of endpoint `name` over the last
        `minutes` (at most 60), one series per version, a point every few seconds. Counted by
        the server that answers (`.server`) only: each server keeps its own last hour in
        memory, a restart starts it afresh (Prometheus on every server's /metrics has more).
        """
        if isinstance(minutes, bool) or not 0 < minutes <= 60:
            raise InvalidInput(f"invalid minutes {minutes!r}: give more than 0, at most 60")
        doc = self._json("GET", f"/v1/endpoints/{_q(name)}/rates", params={"minutes": minutes})
        return RatesInfo.from_doc(doc)
