"""Following jobs and endpoints: waiting for a final state, reading a log as it grows, and
which lifecycle step one is at (built yet? ever ran?), by the states of kaon.core."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kaon.client.models import EndpointInfo, JobInfo
from kaon.client.rest import RestApi
from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.jobs import JobState

JOB_POLL = 0.2  # seconds between two looks at a job being waited for
ENDPOINT_POLL = 0.1
LOG_POLL = 0.3  # seconds between two reads of a followed log that had nothing new
BUILD_STATES = (JobState.PENDING, JobState.BUILDING)
SETTLED = (EndpointState.RUNNING, EndpointState.FAILURE, EndpointState.KILLED)


def job_done(job: JobInfo) -> bool:
    """Whether the job reached a final state (success, failure, killed)."""
    return JobState(job.state).finished


def succeeded(job: JobInfo) -> bool:
    return JobState(job.state) is JobState.SUCCESS


def building(job: JobInfo) -> bool:
    """Pending or building its environment: no trial started yet."""
    return JobState(job.state) in BUILD_STATES


def never_ran(job: JobInfo) -> bool:
    """Pending, building, or ended before any trial started (a build failure)."""
    state = JobState(job.state)
    return state in BUILD_STATES or (
        state is not JobState.SUCCESS
        and not job.trials_started
        and not any(t.started for t in job.trials)
    )


def settled(endpoint: EndpointInfo) -> bool:
    """Whether the endpoint answers (running), failed or was killed."""
    return EndpointState(endpoint.state) in SETTLED


def running(endpoint: EndpointInfo) -> bool:
    return EndpointState(endpoint.state) is EndpointState.RUNNING


def killed(endpoint: EndpointInfo) -> bool:
    return EndpointState(endpoint.state) is EndpointState.KILLED


def never_started(endpoint: EndpointInfo) -> bool:
    """Building, or its build failed: no replica ever ran."""
    state = EndpointState(endpoint.state)
    building = state is EndpointState.STARTING and not endpoint.served_commit
    return building or (
        state is EndpointState.FAILURE and endpoint.failure is EndpointFailure.BUILD
    )


def failed(state: str) -> bool:
    """A job's or an endpoint's state is its failure."""
    return state in (JobState.FAILURE, EndpointState.FAILURE)


def wait_job(api: RestApi, job: str, timeout: float | None) -> JobInfo:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found = api.get_job(job)
        if job_done(found) or (deadline is not None and time.monotonic() > deadline):
            return found
        time.sleep(JOB_POLL)


def wait_endpoint(api: RestApi, name: str, timeout: float | None) -> EndpointInfo:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found = api.get_endpoint(name)
        if settled(found) or (deadline is not None and time.monotonic() > deadline):
            return found
        time.sleep(ENDPOINT_POLL)


def took_traffic(version: EndpointInfo, traffic: dict[str, int], shadow: str | None) -> bool:
    """Whether `version` answers some requests, or is the one requests are mirrored to."""
    return traffic.get(version.version, 0) > 0 or shadow == version.version


def wait_version(api: RestApi, version: EndpointInfo, timeout: float | None) -> EndpointInfo:
    """Until a new version of a named endpoint took its traffic (ready, then routed: a
    rolling update's or canary's share, or the shadow), failed or was killed; after
    `timeout` seconds, as it is then."""
    deadline = None if timeout is None else time.monotonic() + timeout
    release = version.release or version.name
    while True:
        found = api.get_endpoint(version.name)
        if EndpointState(found.state) in (EndpointState.FAILURE, EndpointState.KILLED):
            return found
        if running(found):
            doc = api._json("GET", f"/v1/endpoints/{release}/release")
            if took_traffic(found, doc["traffic"], doc.get("shadow")):
                return found
        if deadline is not None and time.monotonic() > deadline:
            return found
        time.sleep(ENDPOINT_POLL)


def log_pieces(
    api: RestApi,
    target: JobInfo | EndpointInfo,
    build: bool,
    follow: bool,
    tail: int | None = None,
) -> Iterator[str]:
    """The log's text as it comes (from its last `tail` lines when given); with `follow`,
    until the job or endpoint is finished."""
    offset = 0
    while True:
        if isinstance(target, JobInfo):
            kind = "build" if build else "train"
            text, offset, finished = api.job_logs(target.id, kind, offset, tail)
        else:
            kind = "build" if build else "serve"
            text, offset, finished = api.endpoint_logs(target.name, kind, offset, tail)
        tail = None  # then follow from where the tail ended
        if text:
            yield text
        if not follow or finished:
            return
        if not text:
            time.sleep(LOG_POLL)
