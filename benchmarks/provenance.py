#!/usr/bin/env python3
"""Provenance benchmark: ancestry, subvenance and drawings on a synthetic 10,000-step history.

Targets (PASS/FAIL), from the issue: "synthetic history of 10,000 commits/jobs/models in the
metadata store: ancestry of a model and subvenance of a data commit each <= 50 ms median;
rendering the graph of one model <= 1 s":

  * `SqlProvenanceStore.ancestry(model)` over random models: <= 50 ms median;
  * `SqlProvenanceStore.subvenance(data commit)` over random data commits that jobs used:
    <= 50 ms median (the first commit of the longest derived-from chain, whose subvenance is
    that whole repo's history, is reported separately, without a target);
  * one model's drawing, `graph.to_dot(title)` + `dot -Tpdf` (what `kaon train provenance`
    does with the graph it gets): <= 1 s for 95% of random models, i.e. p95 (the issue
    bounds "the graph of one model", not a median; skipped if Graphviz `dot` is absent).

The history is written with the node ids and shapes of `kaon.services.provenance` (what
training and serving record): data commits in a few repos, each `derived-from` the previous
commit of its repo; code commits; environments (one node per lock and code commit) `built-from`
code; one job node per trial
`used` data, code, environment and params; a model `produced` per successful trial; endpoints
`served-by` models, `deployed-from` serve code, with feedback `about` endpoint and model.
It is recorded in batches with `SqlProvenanceStore.record` into a fresh SQLite file (or a
fresh schema of the PostgreSQL server given with --postgres, ANALYZEd after the load). Also
reported: what the model route computes in process (`ProvenanceService.of_model`, to_dict,
to_dot, text_tree, JSON), and `GET /v1/workspaces/<ws>/models/<id>/provenance` and `GET /v1/subvenance`
through a real `python -m kaon.api` server on that database.

    uv run python benchmarks/provenance.py [--picks N] [--postgres URL] [--check]

Exit code 0 unless --check is given and a target fails or a step fails (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import blake3
from _common import log, print_table, terminate_as_exit, verdict

from kaon.core.errors import KaonError
from kaon.core.jobs import canonical_json, trial_name
from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind, model_node_id, node_id
from kaon.db.database import Database
from kaon.db.provenance import SqlProvenanceStore
from kaon.services.provenance import ProvenanceService

QUERY_TARGET = 0.050  # s, median ancestry(model) and subvenance(data commit)
RENDER_TARGET = 1.0  # s, p95 of to_dot + dot -Tpdf of one model's ancestry
DOT_TIMEOUT = 120.0  # s, one dot run
SERVER_TIMEOUT = 60.0  # s, for server.json to appear
EPOCH = 1_700_000_000.0  # start of the synthetic history
SPAN = 2 * 365 * 86400.0  # the history covers two years
WORKSPACE = "bench"  # the synthetic history's models are this workspace's
MODEL_PATH = f"/v1/workspaces/{WORKSPACE}/models/{{}}/provenance"
AUTHORS = ("ana", "bo", "chen", "dara", "eli", "fatou", "gus", "hana", "ivo", "jun", "kim", "lea")
GRID: dict[str, list[Any]] = {
    "C": [0.1, 1, 10, 100],
    "kernel": ["rbf", "poly", "linear"],
    "gamma": [0.001, 0.01, 0.1],
    "degree": [2, 3, 4],
}
T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# small helpers


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1000:,.1f} ms" if s < 0.1 else f"{s * 1000:,.0f} ms"


def fmt_s(s: float | None) -> str:
    return "n/a" if s is None else f"{s:.2f} s"


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def pct(xs: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of `xs`, nearest rank."""
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))]


def rmtree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class Stat:
    """Timings (s) of one measurement over several picks, with the size of what was reached."""

    times: list[float] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, seconds: float, nodes: int) -> None:
        self.times.append(seconds)
        self.nodes.append(nodes)

    @property
    def med(self) -> float | None:
        return median(self.times)

    @property
    def p95(self) -> float | None:
        return pct(self.times, 0.95)

    def summary(self) -> str:
        if not self.times:
            return "n/a"
        return f"median {fmt_ms(self.med)}, p95 {fmt_ms(self.p95)}, max {fmt_ms(max(self.times))}"

    def sizes(self) -> str:
        if not self.nodes:
            return "-"
        med = statistics.median(self.nodes)
        return (
            f"{med:,.0f} nodes median (p95 {pct(self.nodes, 0.95):,.0f}, max {max(self.nodes):,})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.times),
            "median_s": self.med,
            "p95_s": self.p95,
            "max_s": max(self.times) if self.times else None,
            "nodes_median": statistics.median(self.nodes) if self.nodes else None,
            "nodes_max": max(self.nodes) if self.nodes else None,
            "errors": self.errors[:5],
        }


# ---------------------------------------------------------------------------------------
# the synthetic history (ids and shapes as kaon.services.provenance records them)


@dataclass
class Shape:
    data_commits: int
    jobs: int  # job nodes: one per trial
    repos: int
    code_commits: int
    code_repos: int
    envs: int  # environment locks; one node per (lock, code commit) using it
    endpoints: int
    deploys: int
    feedback: int  # feedback records per deploy, on average
    feedback_loop: float  # share of data commits that fold in recent feedback (derived-from)
    lineage: bool = True  # each data commit derived-from the previous one of its repo


@dataclass
class History:
    events: list[tuple[list[Node], list[Edge]]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # node ids, in time order
    model_repo: dict[str, str] = field(default_factory=dict)  # model node id -> data repo
    data: list[str] = field(default_factory=list)  # data node ids, in time order
    fanout: Counter[str] = field(default_factory=Counter)  # data node id -> job nodes using it
    chains: dict[str, list[str]] = field(default_factory=dict)  # repo -> data node ids
    kinds: Counter[str] = field(default_factory=Counter)
    endpoints: list[str] = field(default_factory=list)  # endpoint node ids
    env_ids: set[str] = field(default_factory=set)
    edges: int = 0

    def add(self, nodes: list[Node], edges: list[Edge]) -> None:
        self.events.append((nodes, edges))
        self.edges += len(edges)


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _when(step: float, steps: int) -> str:
    ts = EPOCH + SPAN * step / max(1, steps)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts))


@dataclass
class _Bundle:
    node: Node
    digest: str


def _bundle(rng: random.Random, kind: NodeKind, repo: str) -> _Bundle:
    """A data/code/serve-code commit node as `_bundle_node` in services/provenance.py makes it."""
    commit, digest = _hex(rng, 32), _hex(rng, 64)
    path = f"/{repo}:{digest[:5]}"
    attrs = {
        "author": rng.choice(AUTHORS),
        "repo": repo,
        "branch": "main",
        "commit": commit,
        "hash": digest,
        "path": path,
        "size": str(rng.randrange(10_000, 5_000_000_000)),
    }
    return _Bundle(Node(node_id(kind, commit), kind, path, attrs), digest)


def _lock(rng: random.Random) -> Node:
    """An environment lock; its node is made per code commit by `_env`."""
    lock = _hex(rng, 32)
    attrs = {
        "python": rng.choice(("3.11.9", "3.12.4")),
        "packages": str(rng.randrange(5, 120)),
        "hash": lock,
        "os": "linux",
        "cpu": "x86_64",
    }
    return Node(node_id(NodeKind.ENVIRONMENT, lock), NodeKind.ENVIRONMENT, lock[:12], attrs)


def _env(h: History, lock: Node, code: _Bundle) -> Node:
    """The environment node as `_env_node` makes it: one per (lock, code commit)."""
    key = f"{lock.attrs['hash']}@{code.node.attrs['commit']}"
    env = Node(node_id(NodeKind.ENVIRONMENT, key), NodeKind.ENVIRONMENT, lock.label, lock.attrs)
    h.env_ids.add(env.id)
    return env


def _older(rng: random.Random, chain: list[Any], p_head: float) -> Any:
    """The head of `chain` with probability p_head, else a recent older element."""
    if rng.random() < p_head or len(chain) == 1:
        return chain[-1]
    back = min(len(chain) - 1, 1 + int(rng.expovariate(1 / 4)))
    return chain[-1 - back]


def synthesize(shape: Shape, seed: int) -> History:
    rng = random.Random(seed)
    h = History()
    steps = shape.data_commits
    repos = [f"dataset-{i}" for i in range(shape.repos)]
    weights = [1 / (i + 1) for i in range(shape.repos)]  # Zipf: one big repo, a long tail
    data_chain: dict[str, list[_Bundle]] = {r: [] for r in repos}
    code_repos = [f"train-{i}" for i in range(shape.code_repos)]
    code_chain: dict[str, list[_Bundle]] = {r: [] for r in code_repos}
    serve_chain: list[_Bundle] = []
    env_chain: dict[str, list[Node]] = {r: [] for r in code_repos}
    serve_envs: list[Node] = []

    def at(n: int) -> Counter[int]:
        return Counter(rng.randrange(steps) for _ in range(n))

    # code commits, environment changes, jobs and deploys are spread over the timeline
    code_at = at(max(0, shape.code_commits - shape.code_repos))
    env_at = at(max(0, shape.envs - shape.code_repos))
    trial_counts: list[int] = []
    while sum(trial_counts) < shape.jobs:
        trial_counts.append(1 if rng.random() < 0.7 else rng.randint(2, 12))
    trial_counts[-1] -= sum(trial_counts) - shape.jobs
    job_at: dict[int, list[int]] = {}
    for n in trial_counts:
        job_at.setdefault(rng.randrange(steps), []).append(n)
    deploy_at = at(shape.deploys)
    endpoints = [f"ep-{i}" for i in range(shape.endpoints)]
    feedback: dict[str, list[str]] = {}  # endpoint -> recent feedback node ids
    for r in code_repos:  # every code repo starts with one commit and one environment
        b = _bundle(rng, NodeKind.CODE, r)
        code_chain[r].append(b)
        env_chain[r].append(_lock(rng))
    for i in range(max(1, shape.deploys // 10)):
        serve_chain.append(_bundle(rng, NodeKind.SERVE_CODE, f"serve-{i % 5}"))
    serve_envs.extend(_lock(rng) for _ in range(max(1, shape.envs // 4)))
    params_pool = [
        {k: rng.choice(v) for k, v in GRID.items() if rng.random() < 0.8} for _ in range(200)
    ]

    for step in range(steps):
        # one data commit, derived from the previous commit of its repo
        repo = rng.choices(repos, weights)[0]
        b = _bundle(rng, NodeKind.DATA, repo)
        b.node.attrs["created"] = _when(step, steps)
        edges = []
        chain = data_chain[repo]
        if chain and shape.lineage:
            edges.append(Edge(chain[-1].node.id, b.node.id, EdgeKind.DERIVED_FROM))
        if shape.feedback_loop and feedback and rng.random() < shape.feedback_loop:
            ep = rng.choice(sorted(feedback))
            edges += [Edge(f, b.node.id, EdgeKind.DERIVED_FROM) for f in feedback[ep][-5:]]
        chain.append(b)
        h.data.append(b.node.id)
        h.kinds["data"] += 1
        h.add([b.node], edges)

        for _ in range(code_at[step]):
            r = rng.choice(code_repos)
            code_chain[r].append(_bundle(rng, NodeKind.CODE, r))
            h.kinds["code"] += 1
        for _ in range(env_at[step]):
            env_chain[rng.choice(code_repos)].append(_lock(rng))

        for n_trials in job_at.get(step, []):
            _job(
                rng,
                h,
                shape,
                step,
                n_trials,
                data_chain,
                repos,
                weights,
                code_chain,
                env_chain,
                params_pool,
            )

        for _ in range(deploy_at[step]):
            if not h.models:
                continue
            _deploy(rng, h, shape, step, endpoints, serve_chain, serve_envs, feedback)
    h.kinds["code"] += len(code_repos)
    h.kinds["environment"] = len(h.env_ids)
    h.kinds["serve_code"] = len(serve_chain)
    h.chains = {r: [b.node.id for b in data_chain[r]] for r in repos}
    return h


def _job(
    rng: random.Random,
    h: History,
    shape: Shape,
    step: int,
    n_trials: int,
    data_chain: dict[str, list[_Bundle]],
    repos: list[str],
    weights: list[float],
    code_chain: dict[str, list[_Bundle]],
    env_chain: dict[str, list[Node]],
    params_pool: list[dict[str, Any]],
) -> None:
    """What ProvenanceService.job_started and .model_produced record for one job."""
    steps = shape.data_commits
    live = [(r, w) for r, w in zip(repos, weights, strict=True) if data_chain[r]]
    repo = rng.choices([r for r, _ in live], [w for _, w in live])[0]
    data = _older(rng, data_chain[repo], 0.8)
    code_repo = rng.choice(sorted(code_chain))
    code = _older(rng, code_chain[code_repo], 0.85)
    env_repo = code_repo if rng.random() < 0.8 else rng.choice(sorted(env_chain))
    env = _env(h, _older(rng, env_chain[env_repo], 0.9), code)
    job = _hex(rng, 32)
    hyper = n_trials > 1
    author = rng.choice(AUTHORS)
    nodes = [data.node, code.node, env]
    edges = [Edge(code.node.id, env.id, EdgeKind.BUILT_FROM)]
    if hyper:
        keys = rng.sample(sorted(GRID), rng.randint(1, 3))
        combos = [{k: rng.choice(GRID[k]) for k in keys} for _ in range(n_trials)]
    else:
        combos = [rng.choice(params_pool) if rng.random() < 0.6 else {}]
    hyper_short = _hex(rng, 5)
    models: list[tuple[Node, Edge]] = []
    for index, params in enumerate(combos):
        run = Node(
            node_id(NodeKind.JOB, f"{job}/{index}"),
            NodeKind.JOB,
            f"{job[:8]} trial {index}" if hyper else job[:8],
            {"author": author, "created": _when(step, steps), "job": job},
        )
        nodes.append(run)
        edges += [Edge(x, run.id, EdgeKind.USED) for x in (data.node.id, code.node.id, env.id)]
        h.fanout[data.node.id] += 1
        h.kinds["job"] += 1
        if params:
            key = blake3.blake3(canonical_json(params).encode()).hexdigest()[:16]
            p = Node(
                node_id(NodeKind.PARAMS, key),
                NodeKind.PARAMS,
                trial_name(params)[:-5],
                {"params": canonical_json(params), "hash": key},
            )
            nodes.append(p)
            edges.append(Edge(p.id, run.id, EdgeKind.USED))
        if rng.random() < 0.93:  # the trial succeeded: a model
            mid = f"{code.digest[:5]}_{data.digest[:5]}"
            mid += (f"_{hyper_short}" if hyper else "") + f":{_hex(rng, 6)}"
            metrics = {"accuracy": round(rng.random(), 4), "loss": round(rng.random(), 4)}
            model = Node(
                model_node_id(WORKSPACE, mid),
                NodeKind.MODEL,
                mid,
                {
                    "author": author,
                    "created": _when(step + 0.5, steps),
                    "commit": _hex(rng, 32),
                    "path": f"/models/{mid}",
                    "metrics": json.dumps(metrics, sort_keys=True)[:200],
                },
            )
            models.append((model, Edge(run.id, model.id, EdgeKind.PRODUCED)))
            h.models.append(model.id)
            h.model_repo[model.id] = repo
            h.kinds["model"] += 1
    h.add(nodes, edges)
    for model, edge in models:  # recorded on its own when the trial succeeds
        h.add([model], [edge])


def _deploy(
    rng: random.Random,
    h: History,
    shape: Shape,
    step: int,
    endpoints: list[str],
    serve_chain: list[_Bundle],
    serve_envs: list[Node],
    feedback: dict[str, list[str]],
) -> None:
    """What ProvenanceService.endpoint_started and .feedback_received record for one deploy."""
    steps = shape.data_commits
    name = rng.choice(endpoints)
    model = rng.choice(h.models[-300:])
    code = rng.choice(serve_chain)
    env = _env(h, rng.choice(serve_envs), code)
    served = Node(
        node_id(NodeKind.ENDPOINT, name),
        NodeKind.ENDPOINT,
        name,
        {
            "author": rng.choice(AUTHORS),
            "created": _when(step, steps),
            "commit": _hex(rng, 32),
            "replicas": str(rng.randint(1, 4)),
        },
    )
    if name not in feedback:
        h.kinds["endpoint"] += 1
    h.add(
        [code.node, env, served],
        [
            Edge(code.node.id, env.id, EdgeKind.BUILT_FROM),
            Edge(code.node.id, served.id, EdgeKind.DEPLOYED_FROM),
            Edge(env.id, served.id, EdgeKind.USED),
            Edge(model, served.id, EdgeKind.SERVED_BY),
        ],
    )
    mine = feedback.setdefault(name, [])
    for _ in range(rng.randint(0, 2 * shape.feedback)):
        request = uuid.UUID(int=rng.getrandbits(128)).hex
        fb = Node(
            node_id(NodeKind.FEEDBACK, request),
            NodeKind.FEEDBACK,
            request[:12],
            {"created": _when(step + 0.7, steps), "commit": _hex(rng, 32)},
        )
        h.add(
            [fb],
            [Edge(served.id, fb.id, EdgeKind.ABOUT), Edge(model, fb.id, EdgeKind.ABOUT)],
        )
        mine.append(fb.id)
        h.kinds["feedback"] += 1
    del mine[:-20]


def record_all(store: SqlProvenanceStore, h: History, batch: int) -> float:
    """Record the history with `store.record`, about `batch` nodes per call; seconds taken."""
    t0 = time.perf_counter()
    nodes: list[Node] = []
    edges: list[Edge] = []
    for ns, es in h.events:
        nodes += ns
        edges += es
        if len(nodes) >= batch:
            store.record(nodes, edges)
            nodes, edges = [], []
    if nodes or edges:
        store.record(nodes, edges)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------
# measurements


def bare(model_node: str) -> str:
    """The model id of a model node ("model:<workspace>/<id>")."""
    return model_node.split("/", 1)[1]


def model_route(service: ProvenanceService, key: str) -> int:
    """What GET /v1/workspaces/<ws>/models/<id>/provenance computes, in process: the service's graph (the
    store's ancestry, plus a subvenance per job for what it wrote), then to_dict, to_dot,
    text_tree and the JSON of the response model. Returns the graph's size."""
    from pydantic import TypeAdapter

    from kaon.api.answers import provenance_info
    from kaon.wire import ProvenanceInfo

    graph = service.of_model(WORKSPACE, key)
    root = model_node_id(WORKSPACE, key)
    out = provenance_info(graph, root, f"model {key}")
    TypeAdapter(ProvenanceInfo).dump_json(out)
    return len(graph)


def draw(graph: Graph, title: str, dot: str, out: Path) -> float:
    """to_dot + `dot -Tpdf` (as `kaon train provenance` renders); seconds."""
    t0 = time.perf_counter()
    src = graph.to_dot(title)
    done = subprocess.run(
        [dot, "-Tpdf", "-o", str(out)],
        input=src.encode(),
        capture_output=True,
        timeout=DOT_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return seconds


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    token: str
    log: Path


def start_server(home: Path, metadata_url: str | None) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env["KAON_HOME"] = str(home)
    if metadata_url:
        env["KAON_METADATA_URL"] = metadata_url
    state = home / "server.json"
    logf = home / "server.log"
    with logf.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kaon.api", "--port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {logf.read_text()[-1500:]}")
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(state.read_text())
            if info.get("pid") == proc.pid:
                url = urllib.parse.urlsplit(info["url"])
                token = (home / "token").read_text().strip()
                return Server(proc, url.hostname or "127.0.0.1", int(info["port"]), token, logf)
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(
        f"server did not start in {SERVER_TIMEOUT:.0f} s: {logf.read_text()[-1500:]}"
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def http_get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[float, int, bytes]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - t0, resp.status, body


def explain(store: SqlProvenanceStore, start: str, direction: str) -> list[str]:
    """The query plans of the store's walk (both queries) for one start node."""
    from sqlalchemy import text

    join, reach = ("dst", "src") if direction == "up" else ("src", "dst")
    cte = f"""WITH RECURSIVE reached(id) AS (
        SELECT CAST(:start AS VARCHAR)
        UNION SELECT e.{reach} FROM prov_edges e JOIN reached r ON e.{join} = r.id
    )"""
    out = []
    prefix = "EXPLAIN QUERY PLAN" if store._dialect == "sqlite" else "EXPLAIN"
    engine = store._engine  # a benchmark may look inside
    with engine.connect() as conn:
        for what, tail in (
            ("nodes", "SELECT n.id FROM prov_nodes n JOIN reached r ON n.id = r.id"),
            ("edges", f"SELECT e.src FROM prov_edges e JOIN reached r ON e.{join} = r.id"),
        ):
            rows = conn.execute(text(f"{prefix} {cte} {tail}"), {"start": start}).all()
            out += [f"{direction} {what}: {r[-1]}" for r in rows]
    return out


# ---------------------------------------------------------------------------------------
# report


@dataclass
class Check:
    name: str
    value: str
    size: str
    target: str
    ok: bool | None  # None: skipped or informational


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="kaon provenance benchmark (synthetic 10,000-step history in the metadata DB)."
    )
    p.add_argument("--data-commits", type=int, default=10_000, help="data commits (time steps)")
    p.add_argument("--jobs", type=int, default=10_000, help="job nodes (one per trial)")
    p.add_argument("--repos", type=int, default=8, help="data repos (Zipf-sized chains)")
    p.add_argument("--code-commits", type=int, default=300)
    p.add_argument("--code-repos", type=int, default=6)
    p.add_argument("--envs", type=int, default=40, help="training environment locks")
    p.add_argument("--endpoints", type=int, default=30, help="endpoint names")
    p.add_argument("--deploys", type=int, default=500, help="deploys (an endpoint, a model)")
    p.add_argument("--feedback", type=int, default=10, help="feedback records per deploy (mean)")
    p.add_argument(
        "--feedback-loop",
        type=float,
        default=0.0,
        help="share of data commits derived from recent feedback too (closes the loop)",
    )
    p.add_argument(
        "--no-lineage",
        action="store_true",
        help="no derived-from edges between data commits (nothing records them today)",
    )
    p.add_argument("--picks", type=int, default=200, help="random models / data commits timed")
    p.add_argument("--render-picks", type=int, default=30, help="models drawn with dot")
    p.add_argument(
        "--route-picks",
        type=int,
        default=50,
        help="models put through ProvenanceService.of_model + the route's serialisation",
    )
    p.add_argument("--http-picks", type=int, default=50, help="requests per HTTP route")
    p.add_argument("--batch", type=int, default=2000, help="nodes per record() call")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--postgres", default=None, help="a PostgreSQL URL: use a fresh schema there")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP API measurements")
    p.add_argument("--explain", action="store_true", help="print the walks' query plans")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir")
    p.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (and PG schema)")
    p.add_argument("--check", action="store_true", help="exit 1 if any target fails")
    return p.parse_args(argv)


def pg_schema_url(url: str) -> tuple[str, str]:
    """(URL of a fresh schema on the server at `url`, its name)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url)
    if admin.drivername in ("postgresql", "postgres"):
        admin = admin.set(drivername="postgresql+psycopg")
    name = f"kaon_bench_{uuid.uuid4().hex[:10]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    schema_url = admin.update_query_dict({"options": f"-csearch_path={name}"})
    return schema_url.render_as_string(hide_password=False), name


def pg_drop_schema(url: str, name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def composition(counts: Counter[str], picks: int) -> str:
    """Mean nodes per pick by kind, biggest first."""
    if not picks:
        return "-"
    total = sum(counts.values()) or 1
    return ", ".join(
        f"{k} {v / picks:,.0f} ({100 * v / total:.0f}%)" for k, v in counts.most_common(5)
    )


def by_size(st: Stat) -> str:
    """Median time per size bucket of the reached graph: how a cost grows with the graph."""
    out = []
    bounds = (0, 250, 500, 1000, 2000, 5000, 10_000, 10**9)
    for lo, hi in pairwise(bounds):
        ts = [t for t, n in zip(st.times, st.nodes, strict=True) if lo <= n < hi]
        if ts:
            size = f"{lo:,}-{hi:,}" if hi < 10**9 else f">= {lo:,}"
            out.append(f"{size} nodes: {fmt_ms(median(ts))} (n={len(ts)})")
    return "; ".join(out)


def measure(
    args: argparse.Namespace, h: History, store: SqlProvenanceStore, work: Path
) -> tuple[dict[str, Stat], dict[str, Any]]:
    """Every in-process figure: the store's walks, the route's serialisation, dot drawings."""
    rng = random.Random(args.seed + 1)
    stats: dict[str, Stat] = {}
    figures: dict[str, Any] = {}
    if store._dialect == "postgresql":
        # without statistics PostgreSQL plans each recursive step as a hash join over a
        # sequential scan of prov_edges: time a few walks like that, then ANALYZE (what
        # autovacuum does within a minute or so) and measure the steady state
        from sqlalchemy import text

        before = Stat()
        for mid in random.Random(args.seed + 2).sample(h.models, min(3, len(h.models))):
            s, g = timed(partial(store.ancestry, mid))
            before.add(s, len(g))
        stats["pg_before_analyze"] = before
        with store._engine.begin() as conn:
            conn.execute(text("ANALYZE prov_nodes"))
            conn.execute(text("ANALYZE prov_edges"))
    # warm-up: the first queries pay for opening the file and filling the page cache
    for mid in h.models[:5]:
        store.ancestry(mid)
    for did in h.data[-5:]:
        store.subvenance(did)

    models = rng.sample(h.models, min(args.picks, len(h.models)))
    used = [d for d in h.data if h.fanout[d] > 0]
    datas = rng.sample(used, min(args.picks, len(used)))
    recent_used = used[len(used) * 9 // 10 :]
    recent = rng.sample(recent_used, min(args.picks, len(recent_used)))
    figures["models"], figures["datas"] = models, datas
    figures["data_fanout_median"] = statistics.median(h.fanout[d] for d in datas)
    figures["data_unused"] = len(h.data) - len(used)

    log(f"ancestry of {len(models)} models (+ what the route computes)")
    anc, api = Stat(), Stat()
    kinds: Counter[str] = Counter()
    sizes: dict[str, int] = {}
    service = ProvenanceService(store)
    for mid in models:
        s, g = timed(partial(store.ancestry, mid))
        anc.add(s, len(g))
        sizes[mid] = len(g)
        kinds.update(n.kind.value for n in g.nodes)
        if len(api.times) < args.route_picks:
            s, n = timed(partial(model_route, service, bare(mid)))
            api.add(s, n)
    stats["ancestry"], stats["ancestry_api"] = anc, api
    figures["ancestry_kinds"] = composition(kinds, len(models))

    for key, picks in (("subvenance", datas), ("subvenance_recent", recent)):
        log(f"subvenance of {len(picks)} data commits ({key})")
        st, kinds = Stat(), Counter()
        for did in picks:
            s, g = timed(partial(store.subvenance, did))
            st.add(s, len(g))
            kinds.update(n.kind.value for n in g.nodes)
        stats[key] = st
        figures[f"{key}_kinds"] = composition(kinds, len(picks))

    longest = max(h.chains, key=lambda r: len(h.chains[r]))
    figures["longest_chain"] = {"repo": longest, "commits": len(h.chains[longest])}
    worst = Stat()
    for _ in range(5):
        s, g = timed(partial(store.subvenance, h.chains[longest][0]))
        worst.add(s, len(g))
    stats["subvenance_worst"] = worst
    last_model = next(m for m in reversed(h.models) if h.model_repo[m] == longest)
    worst = Stat()
    for _ in range(5):
        s, g = timed(partial(store.ancestry, last_model))
        worst.add(s, len(g))
    stats["ancestry_worst"] = worst
    eps = Stat()
    for name in h.endpoints:
        s, g = timed(partial(store.ancestry, name))
        eps.add(s, len(g))
    stats["ancestry_endpoint"] = eps

    log("find(kind, prefix): the commit-prefix lookup of GET /v1/subvenance")
    find = Stat()
    for did in datas[:50]:
        s, found = timed(partial(store.find, "data", did[5:17]))
        find.add(s, len(found))
    stats["find"] = find

    dot = shutil.which("dot")
    if dot:
        picks = models[: args.render_picks]
        log(f"drawing {len(picks)} models with to_dot + dot -Tpdf")
        rend, full = Stat(), Stat()
        for mid in picks:
            g = store.ancestry(mid)
            try:
                s = draw(g, f"model {bare(mid)}", dot, work / "model.pdf")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                rend.errors.append(str(exc)[:200])
                s = DOT_TIMEOUT
            rend.add(s, len(g))
            full.add(s + anc.times[models.index(mid)], len(g))
        stats["render"], stats["render_full"] = rend, full
        figures["render_slow"] = sum(1 for t in rend.times if t > RENDER_TARGET)
        figures["render_by_size"] = by_size(rend)
        figures["ancestry_over_1000"] = sum(1 for n in sizes.values() if n > 1000)

    if args.explain:
        figures["plans"] = explain(store, models[0], "up") + explain(store, datas[0], "down")
    return stats, figures


def measure_http(
    args: argparse.Namespace, home: Path, url: str | None, figures: dict[str, Any]
) -> dict[str, Stat]:
    """GET the provenance routes of a real server started on the filled database."""
    log("HTTP API: python -m kaon.api --port 0")
    stats: dict[str, Stat] = {}
    server = start_server(home, url)
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        models, datas = figures["models"], figures["datas"]
        for mid in models[:3]:  # warm-up
            http_get(conn, MODEL_PATH.format(urllib.parse.quote(bare(mid))), server.token)
        for key, picks, path in (
            ("http_model", models, MODEL_PATH),
            ("http_subvenance", datas, "/v1/subvenance?commit={}"),
        ):
            st = Stat()
            for nid in picks[: args.http_picks]:
                ref = urllib.parse.quote(bare(nid) if key == "http_model" else nid.split(":", 1)[1])
                s, status, body = http_get(conn, path.format(ref), server.token)
                if status != 200:
                    st.errors.append(f"{status} {body[:200]!r}")
                    continue
                st.add(s, len(json.loads(body)["graph"]["nodes"]))
            stats[key] = st
        conn.close()
    finally:
        stop_server(server.proc)
    return stats


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = Shape(
        data_commits=args.data_commits,
        jobs=args.jobs,
        repos=args.repos,
        code_commits=args.code_commits,
        code_repos=args.code_repos,
        envs=args.envs,
        endpoints=args.endpoints,
        deploys=args.deploys,
        feedback=args.feedback,
        feedback_loop=args.feedback_loop,
        lineage=not args.no_lineage,
    )
    parent = args.workdir.absolute() if args.workdir else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-prov-", dir=parent))
    home = work / "home"
    home.mkdir()
    dot = shutil.which("dot")
    figures: dict[str, Any] = {}
    stats: dict[str, Stat] = {}
    error: str | None = None
    schema: str | None = None
    url = f"sqlite:///{home / 'kaon.db'}"
    h = History()
    db: Database | None = None
    with terminate_as_exit():
        try:
            if args.postgres:
                url, schema = pg_schema_url(args.postgres)
            log(f"synthesizing {args.data_commits:,} data commits, {args.jobs:,} job nodes")
            h = synthesize(shape, args.seed)
            db = Database(url)
            store = db.provenance
            rows = sum(len(ns) for ns, _ in h.events)
            log(f"recording {len(h.events):,} events ({rows:,} node rows, {h.edges:,} edge rows)")
            figures["record_s"] = record_all(store, h, args.batch)
            # the Node/Edge objects would make every garbage collection of the timed calls
            # walk ~200,000 more objects than a server holds: keep only the ids needed
            h.endpoints = sorted({n.id for ns, _ in h.events for n in ns if n.kind == "endpoint"})
            h.events.clear()
            gc.collect()
            stats, more = measure(args, h, store, work)
            figures |= more
            db.close()
            db = None
            if not args.no_http:
                stats |= measure_http(args, home, url if args.postgres else None, figures)
        except (
            KaonError,
            RuntimeError,
            OSError,
            ValueError,
            KeyError,
            IndexError,
            http.client.HTTPException,
            subprocess.SubprocessError,
        ) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log(f"benchmark step failed: {error}")
        finally:
            if db is not None:
                db.close()
            db_file = home / "kaon.db"
            figures["db_bytes"] = db_file.stat().st_size if db_file.exists() else None
            if args.keep:
                log(f"kept {work}" + (f" and schema {schema}" if schema else ""))
            else:
                rmtree(work)
                if schema and args.postgres:
                    with contextlib.suppress(Exception):
                        pg_drop_schema(args.postgres, schema)

    # -- report -------------------------------------------------------------------------
    import sqlite3

    backend = (
        "PostgreSQL, fresh schema" if args.postgres else f"SQLite {sqlite3.sqlite_version} file"
    )
    graphviz = "no Graphviz"
    if dot:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            graphviz = subprocess.run([dot, "-V"], capture_output=True, text=True).stderr.strip()
    env_line = f"{os.cpu_count()} CPU, Python {platform.python_version()}, {backend}, {graphviz}"
    kinds = ", ".join(f"{v:,} {k}" for k, v in sorted(h.kinds.items(), key=lambda kv: -kv[1]))
    chains = sorted((len(c) for c in h.chains.values()), reverse=True)
    print()
    print(f"kaon provenance benchmark - {env_line}")
    print(f"history: {kinds}; {h.edges:,} edge rows recorded")
    if chains:
        print(
            f"data repos ({'derived-from chains' if shape.lineage else 'no derived-from edges'}):"
            f" {', '.join(f'{c:,}' for c in chains)} commits; "
            f"{figures.get('data_unused', 0):,} commits used by no job"
        )
    if "record_s" in figures:
        db = figures.get("db_bytes")
        print(
            f"recorded with record() in batches of ~{args.batch:,} nodes in "
            f"{figures['record_s']:.1f} s" + (f"; kaon.db {db / 1e6:,.0f} MB" if db else "")
        )
    if error:
        print(f"ERROR: a step failed, its figures and those after it are missing: {error}")
    print()

    def stat(key: str) -> Stat:
        return stats.get(key, Stat())

    def under(key: str, target: float, p95: bool = False) -> bool | None:
        value = stat(key).p95 if p95 else stat(key).med
        return None if value is None else value <= target and not stat(key).errors

    rend = stat("render")
    checks = [
        Check(
            f"ancestry(model), {len(stat('ancestry').times)} random models",
            stat("ancestry").summary(),
            stat("ancestry").sizes(),
            "<= 50 ms median",
            under("ancestry", QUERY_TARGET),
        ),
        Check(
            f"subvenance(data commit), {len(stat('subvenance').times)} used commits",
            stat("subvenance").summary(),
            stat("subvenance").sizes(),
            "<= 50 ms median",
            under("subvenance", QUERY_TARGET),
        ),
        Check(
            f"draw one model: to_dot + dot -Tpdf, {len(rend.times)} models",
            rend.summary() if dot else "skipped: Graphviz `dot` not found",
            rend.sizes(),
            "<= 1 s p95",
            under("render", RENDER_TARGET, p95=True),
        ),
    ]
    print_table(
        ["CHECK", "TIME", "REACHED", "TARGET", "RESULT"],
        [[c.name, c.value, c.size, c.target, verdict(c.ok)] for c in checks],
    )
    print()
    repo = figures.get("longest_chain", {}).get("repo", "?")
    labels = [
        ["subvenance, used commits of the last 10% of the history", "subvenance_recent"],
        [f"subvenance of the 1st commit of {repo} (worst, 5 runs)", "subvenance_worst"],
        [f"ancestry of the last model trained on {repo} (5 runs)", "ancestry_worst"],
        ["ancestry(endpoint), every endpoint", "ancestry_endpoint"],
        ["of_model + to_dict/to_dot/text_tree/JSON (the route)", "ancestry_api"],
        ["ancestry + to_dot + dot -Tpdf (drawn models)", "render_full"],
        ["find('data', 12-char prefix) (GET /v1/subvenance)", "find"],
        ["PostgreSQL: ancestry(model) right after the load, before ANALYZE", "pg_before_analyze"],
        ["HTTP GET …/models/<id>/provenance", "http_model"],
        ["HTTP GET /v1/subvenance?commit=<id>", "http_subvenance"],
    ]
    info = [
        [label, stat(key).summary(), stat(key).sizes() if key != "find" else "-"]
        for label, key in labels
        if key != "pg_before_analyze" or key in stats
    ]
    print_table(["MORE FIGURES", "TIME", "REACHED"], info)
    print()
    notes = []
    if "data_fanout_median" in figures:
        notes.append(
            f"direct fan-out of the picked data commits: {figures['data_fanout_median']:g} "
            "job node(s) median"
        )
    for key, label in (
        ("ancestry_kinds", "ancestry(model) reaches, per pick"),
        ("subvenance_kinds", "subvenance(used commit) reaches, per pick"),
        ("subvenance_recent_kinds", "subvenance(recent commit) reaches, per pick"),
    ):
        if key in figures:
            notes.append(f"{label}: {figures[key]}")
    if dot and rend.times:
        notes.append(
            f"drawings over 1 s: {figures.get('render_slow', 0)} of {len(rend.times)}; "
            f"by size: {figures.get('render_by_size', '-')}; "
            f"{figures.get('ancestry_over_1000', 0)} of the {len(stat('ancestry').nodes)} "
            "timed models have an ancestry of more than 1,000 nodes"
        )
        notes.append(f"subvenance by size: {by_size(stat('subvenance'))}")
    for note in notes:
        print(note)
    for key, st in stats.items():
        if st.errors:
            print(f"errors in {key}: {len(st.errors)}, first: {st.errors[0]}")
    if figures.get("plans"):
        print()
        print("query plans (ancestry: up, subvenance: down):")
        for line in figures["plans"]:
            print(f"  {line}")
    if args.json:
        doc = {
            "env": env_line,
            "error": error,
            "shape": shape.__dict__,
            "kinds": dict(h.kinds),
            "chains": chains,
            "figures": {k: v for k, v in figures.items() if k not in ("models", "datas")},
            "stats": {k: v.to_dict() for k, v in stats.items()},
            "checks": [c.__dict__ for c in checks],
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str))
    if error:
        return 1 if args.check else 0
    failed = any(c.ok is False for c in checks)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
