"""Pipeline spec files (Pachyderm's format) → validated `PipelineSpec`s, and back.

`parse_specs(text, filename)` reads JSON (one object, several concatenated objects as pachctl
accepts, or a list) or YAML (several documents separated by `---`). `parse_spec(doc, where)`
reads one document. Fields kaon reads are typed and checked; known Pachyderm fields that have
no effect here (`pod_spec`, `standby`, …; see `fields`) are accepted with one warning line each
and listed in `PipelineSpec.ignored`; any other field is an error naming the file, the document,
the field path and the closest known field. `spec_doc(spec)` (module `specdoc`) gives the
canonical document back: `parse_spec(spec_doc(s))[0] == s`.

Decisions: `parallelism_spec.coefficient` (a multiple of the Kubernetes node count) counts
as one node: ceil(coefficient) workers, with a warning. `input.pfs.glob` is required (as in
Pachyderm). `transform.image` is recorded, never pulled (a warning says what runs instead).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the lock

from kaon.core import ids, units
from kaon.core.errors import InvalidInput
from kaon.core.pipelines import inputs
from kaon.core.pipelines.reader import Reader, describe_value
from kaon.core.pipelines.spec import (
    PipelineSpec,
    Reprocess,
    Resources,
    Service,
    Spout,
    Transform,
)
from kaon.core.pipelines.specdoc import spec_doc

__all__ = ["ParsedSpecs", "parse_spec", "parse_specs", "spec_doc"]


@dataclass(frozen=True)
class ParsedSpecs:
    specs: list[PipelineSpec]
    warnings: list[str] = field(default_factory=list)


def parse_specs(text: str, filename: str) -> ParsedSpecs:
    """Every pipeline spec of a file (all or nothing: the first error raises InvalidInput)."""
    specs: list[PipelineSpec] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    docs = _documents(text, filename)
    for index, doc in docs:
        where = f"{filename}, document {index}" if len(docs) > 1 else filename
        if not isinstance(doc, Mapping):
            raise InvalidInput(
                f"{where}: a pipeline spec is a mapping (pipeline:, transform:, input:, …), "
                f"not {type(doc).__name__}"
            )
        spec, said = parse_spec(doc, where)
        if spec.name in seen:
            raise InvalidInput(
                f"{filename}: documents {seen[spec.name]} and {index} both define pipeline "
                f"{spec.name!r}: rename one, or keep one"
            )
        seen[spec.name] = index
        specs.append(spec)
        warnings.extend(said)
    if not specs:
        raise InvalidInput(f"{filename}: no pipeline spec in it")
    return ParsedSpecs(specs, warnings)


def _documents(text: str, filename: str) -> list[tuple[int, Any]]:
    """(1-based index, document) of every non-empty document in the file."""
    json_error = None
    if text.lstrip().startswith(("{", "[")):
        try:
            return list(enumerate(_json_documents(text), 1))
        except json.JSONDecodeError as e:  # maybe YAML's flow style: {pipeline: {name: a}}
            json_error = f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        if json_error:
            raise InvalidInput(f"{filename}: {json_error}") from None
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InvalidInput(f"{filename}: invalid YAML{at}: {problem}") from None
    return [(i, d) for i, d in enumerate(loaded, 1) if d is not None]


def _json_documents(text: str) -> list[Any]:
    """One JSON value, several concatenated (as pachctl reads them), or a list of them."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return docs
        value, pos = decoder.raw_decode(text, pos)
        docs.extend(value if isinstance(value, list) else [value])


def parse_spec(doc: Mapping[str, Any], where: str) -> tuple[PipelineSpec, list[str]]:
    """One spec document → (spec, warnings); InvalidInput saying where and what is wrong."""
    r = Reader(where)
    head = doc.get("pipeline") if isinstance(doc, Mapping) else None
    if isinstance(head, Mapping) and isinstance(head.get("name"), str):
        r.name = head["name"]  # to name it in errors about fields read before its name
    top = r.fields(doc, "", "")
    if "pipeline" not in top:
        r.fail("pipeline", "missing: add `pipeline: {name: <name>}` (the name of its output repo)")
    head = r.fields(top["pipeline"], "pipeline", "pipeline")
    if "name" not in head:
        r.fail("pipeline.name", "missing: add `pipeline: {name: <name>}`")
    name = r.checked("pipeline.name", ids.repo_name, r.text(head["name"], "pipeline.name"))
    r.name = name
    transform = _transform(r, top.get("transform"))
    spout = None
    if "spout" in top:
        sp = r.fields(top["spout"] or {}, "spout", "spout")
        spout = Spout(overwrite=r.flag(sp.get("overwrite", False), "spout.overwrite"))
    service = _service(r, top["service"]) if "service" in top else None
    if spout is not None and service is not None:
        r.fail("service", "a spout cannot also be a service: remove one")
    source = None
    if "input" in top:
        if spout is not None:
            r.fail("input", "a spout has no input: remove input, or spout")
        source = inputs.parse_input(r, top["input"], "input")
    elif spout is None:
        r.fail("input", 'missing: add e.g. `input: {pfs: {repo: <repo>, glob: "/*"}}`')
    reprocess = Reprocess.UNTIL_SUCCESS
    if "reprocess_spec" in top:
        choices = [m.value for m in Reprocess]
        if top["reprocess_spec"] not in choices:
            r.fail(
                "reprocess_spec",
                f"expected one of {', '.join(choices)}, got {describe_value(top['reprocess_spec'])}",
            )
        reprocess = Reprocess(top["reprocess_spec"])
    spec = PipelineSpec(
        name=name,
        transform=transform,
        input=source,
        description=r.text(top.get("description", ""), "description"),
        parallelism=_parallelism(r, top.get("parallelism_spec")),
        datum_tries=r.integer(top.get("datum_tries", 3), "datum_tries", least=1),
        datum_timeout=_duration(r, top, "datum_timeout"),
        job_timeout=_duration(r, top, "job_timeout"),
        requests=_resources(r, top.get("resource_requests"), "resource_requests"),
        limits=_resources(r, top.get("resource_limits"), "resource_limits"),
        output_branch=r.checked(
            "output_branch",
            ids.branch_name,
            r.text(top.get("output_branch", "master"), "output_branch"),
        ),
        reprocess=reprocess,
        service=service,
        spout=spout,
        ignored=tuple(sorted(r.ignored)),
    )
    return spec, r.warnings


def _transform(r: Reader, value: Any) -> Transform:
    if value is None:
        r.fail("transform", "missing: add `transform: {cmd: [...]}`")
    t = r.fields(value, "transform", "transform")
    if "cmd" not in t:
        r.fail(
            "transform.cmd",
            'missing: add e.g. `cmd: ["python3", "main.py"]` or `cmd: ["/bin/bash"]` with stdin lines',
        )
    cmd = r.strings(t["cmd"], "transform.cmd", '["python3", "main.py"]')
    if not cmd:
        r.fail("transform.cmd", 'empty: name the program to run, e.g. ["python3", "main.py"]')
    env = t.get("env") or {}
    if not isinstance(env, Mapping):
        r.fail("transform.env", f"expected a mapping of NAME: value, got {describe_value(env)}")
    pairs: list[tuple[str, str]] = []
    for key, val in env.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            r.fail(f"transform.env.{key}", "invalid variable name: use letters, digits and '_'")
        if isinstance(val, bool):
            val = "true" if val else "false"
        if not isinstance(val, str | int | float):
            r.fail(f"transform.env.{key}", f"expected a string value, got {describe_value(val)}")
        pairs.append((key, str(val)))
    codes = t.get("accept_return_code", [])
    if not isinstance(codes, list):
        r.fail(
            "transform.accept_return_code",
            f"expected a list of exit codes, got {describe_value(codes)}",
        )
    image = r.text(t.get("image", ""), "transform.image")
    source = r.text(t.get("source", ""), "transform.source")
    if image and not source:
        r.warn(
            f"image {image} cannot be pulled here (no container runtime): the transform runs "
            "with the platform's Python; add transform.source: <folder with requirements.txt>"
        )
    elif image:
        r.warn(
            f"image {image} is recorded, not pulled: the transform runs in transform.source's environment"
        )
    return Transform(
        cmd=cmd,
        stdin=r.strings(t.get("stdin", []), "transform.stdin", '["python3 main.py"]'),
        env=tuple(sorted(pairs)),
        working_dir=r.text(t.get("working_dir", ""), "transform.working_dir"),
        accept_return_code=tuple(
            r.integer(c, f"transform.accept_return_code[{i}]", least=0) for i, c in enumerate(codes)
        ),
        err_cmd=r.strings(t.get("err_cmd", []), "transform.err_cmd", '["/bin/bash"]'),
        err_stdin=r.strings(t.get("err_stdin", []), "transform.err_stdin", '["exit 0"]'),
        image=image,
        source=source,
        datum_batching=r.flag(t.get("datum_batching", False), "transform.datum_batching"),
    )


def _parallelism(r: Reader, value: Any) -> int:
    if value is None:
        return 1
    p = r.fields(value, "parallelism_spec", "parallelism_spec")
    if "constant" in p and "coefficient" in p:
        r.fail("parallelism_spec", "set constant or coefficient, not both")
    if "coefficient" in p:
        c = p["coefficient"]
        if isinstance(c, bool) or not isinstance(c, int | float) or not 0 < c < math.inf:
            r.fail(
                "parallelism_spec.coefficient", f"expected a number > 0, got {describe_value(c)}"
            )
        workers = max(1, math.ceil(c))
        r.warn(
            f"parallelism_spec.coefficient {c} counts Kubernetes nodes; here there is one "
            f"node: {workers} worker(s) (use parallelism_spec.constant)"
        )
        return workers
    return r.integer(p.get("constant", 1), "parallelism_spec.constant", least=1)


def _duration(r: Reader, top: Mapping[str, Any], key: str) -> float | None:
    if key not in top:
        return None
    if not isinstance(top[key], str):
        r.fail(
            key,
            f'expected a duration such as "30s", "10m" or "1h5m", got {describe_value(top[key])}',
        )
    return r.checked(key, units.parse_go_duration, top[key])


def _resources(r: Reader, value: Any, path: str) -> Resources:
    if value is None:
        return Resources()
    res = r.fields(value, path, "resources")
    cpu = r.checked(f"{path}.cpu", units.parse_cpu, res["cpu"]) if "cpu" in res else None
    memory = _quantity(r, res, "memory", path)
    disk = _quantity(r, res, "disk", path)
    gpu, gpu_type = 0, ""
    if "gpu" in res:
        g = res["gpu"]
        if isinstance(g, Mapping):
            gm = r.fields(g, f"{path}.gpu", "gpu")
            gpu = r.integer(gm.get("number", 0), f"{path}.gpu.number", least=0)
            gpu_type = r.text(gm.get("type", ""), f"{path}.gpu.type")
        else:
            gpu = r.integer(g, f"{path}.gpu", least=0)
    return Resources(cpu=cpu, memory=memory, gpu=gpu, disk=disk, gpu_type=gpu_type)


def _quantity(r: Reader, res: Mapping[str, Any], key: str, path: str) -> int | None:
    if key not in res:
        return None
    value = res[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        r.fail(
            f"{path}.{key}",
            f'expected a size such as "2G", "64M" or "1Gi", got {describe_value(value)}',
        )
    return int(r.checked(f"{path}.{key}", units.parse_memory, value.strip()))


def _service(r: Reader, value: Any) -> Service:
    s = r.fields(value, "service", "service")
    if "internal_port" not in s:
        r.fail("service.internal_port", "missing: the port the service listens on, e.g. 6006")
    return Service(
        internal_port=_port(r, s["internal_port"], "service.internal_port"),
        external_port=_port(r, s.get("external_port", 0), "service.external_port", zero=True),
    )


def _port(r: Reader, value: Any, path: str, *, zero: bool = False) -> int:
    port = r.integer(value, path, least=0 if zero else 1)
    if port > 65535:
        r.fail(path, f"expected a port from 1 to 65535, got {port}")
    return port
