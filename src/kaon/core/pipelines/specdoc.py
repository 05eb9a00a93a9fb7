"""A `PipelineSpec` as its canonical Pachyderm-named document (versioned and hashed).

Deterministic: fields at their defaults are left out (so a field added later does not change the
documents, and salts, of existing pipelines), `transform.env` is a mapping (sorted when dumped
with sort_keys), durations are Go durations ("1h5m"), sizes the shortest exact quantity ("2G").
Known Pachyderm fields that had no effect are kept by name with a null value, so that reading
the document back gives the same spec (and the same warnings).
"""

from __future__ import annotations

import re
from typing import Any

from kaon.core import units
from kaon.core.pipelines.spec import (
    CombinedInput,
    CronInput,
    Input,
    PfsInput,
    PipelineSpec,
    Reprocess,
    Resources,
)


def spec_doc(spec: PipelineSpec) -> dict[str, Any]:
    t = spec.transform
    transform: dict[str, Any] = {"cmd": list(t.cmd)}
    optional = {
        "stdin": list(t.stdin),
        "env": dict(t.env),
        "working_dir": t.working_dir,
        "accept_return_code": list(t.accept_return_code),
        "err_cmd": list(t.err_cmd),
        "err_stdin": list(t.err_stdin),
        "image": t.image,
        "source": t.source,
        "datum_batching": t.datum_batching,
    }
    transform.update({k: v for k, v in optional.items() if v})
    doc: dict[str, Any] = {
        "pipeline": {"name": spec.name},
        "transform": transform,
        "datum_tries": spec.datum_tries,
    }
    if spec.input is not None:
        doc["input"] = input_doc(spec.input)
    if spec.description:
        doc["description"] = spec.description
    if spec.parallelism != 1:
        doc["parallelism_spec"] = {"constant": spec.parallelism}
    for key, seconds in (("datum_timeout", spec.datum_timeout), ("job_timeout", spec.job_timeout)):
        if seconds is not None:
            doc[key] = units.go_duration_text(seconds)
    for key, res in (("resource_requests", spec.requests), ("resource_limits", spec.limits)):
        if res != Resources():
            doc[key] = _resources_doc(res)
    if spec.output_branch != "master":
        doc["output_branch"] = spec.output_branch
    if spec.reprocess is not Reprocess.UNTIL_SUCCESS:
        doc["reprocess_spec"] = spec.reprocess.value
    if spec.service is not None:
        doc["service"] = {"internal_port": spec.service.internal_port}
        if spec.service.external_port:
            doc["service"]["external_port"] = spec.service.external_port
    if spec.spout is not None:
        doc["spout"] = {"overwrite": True} if spec.spout.overwrite else {}
    for path in spec.ignored:
        _put_null(doc, path)
    return doc


def input_doc(source: Input) -> dict[str, Any]:
    if isinstance(source, PfsInput):
        pfs: dict[str, Any] = {
            "repo": source.repo,
            "name": source.name,
            "branch": source.branch,
            "glob": source.glob,
        }
        optional = {
            "empty_files": source.empty_files,
            "lazy": source.lazy,
            "join_on": source.join_on,
            "outer_join": source.outer_join,
            "group_by": source.group_by,
        }
        pfs.update({k: v for k, v in optional.items() if v})
        if source.trigger is not None:
            t = source.trigger
            given = {"commits": t.commits, "size": t.size, "all": t.all}
            pfs["trigger"] = {k: v for k, v in given.items() if v}
        return {"pfs": pfs}
    if isinstance(source, CronInput):
        cron: dict[str, Any] = {"name": source.name, "spec": source.spec, "repo": source.repo}
        if source.overwrite:
            cron["overwrite"] = True
        if source.start:
            cron["start"] = source.start
        return {"cron": cron}
    assert isinstance(source, CombinedInput)
    return {source.kind.value: [input_doc(i) for i in source.inputs]}


def _resources_doc(res: Resources) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if res.cpu is not None:
        doc["cpu"] = res.cpu
    if res.memory is not None:
        doc["memory"] = units.quantity_text(res.memory)
    if res.disk is not None:
        doc["disk"] = units.quantity_text(res.disk)
    if res.gpu or res.gpu_type:
        doc["gpu"] = {"type": res.gpu_type, "number": res.gpu} if res.gpu_type else res.gpu
    return doc


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _put_null(doc: dict[str, Any], path: str) -> None:
    """Set `path` ("pod_spec", "input.cross[1].pfs.s3") to None inside `doc`."""
    steps: list[str | int] = [int(index) if index else key for key, index in _STEP.findall(path)]
    node: Any = doc
    for step in steps[:-1]:
        if isinstance(step, str) and step not in node:
            node[step] = {}  # an ignored field of a section kaon did not keep (pipeline.project)
        node = node[step]
    node[steps[-1]] = None
