"""A task's Limits as Ray resources, checked against what the cluster has.

`--cpu` (Limits.cpus, default 1) → `num_cpus`; GPUs → `num_gpus`; a memory limit the job
gave (not the platform's default) → Ray's `memory` resource, reserved on the node (the worker
also enforces it as the local backend does). A task no live node could hold is refused at
once with what the cluster has, instead of waiting forever in Ray's queue.
"""

from __future__ import annotations

from typing import Any

from kaon.core.errors import InvalidInput
from kaon.core.units import memory_text
from kaon.exec.ray.connect import NodeResources
from kaon.ports.executor import Limits

DEFAULT_CPUS = 1.0


def task_options(limits: Limits) -> dict[str, Any]:
    """The Ray task options for `limits`."""
    options: dict[str, Any] = {"num_cpus": DEFAULT_CPUS if limits.cpus is None else limits.cpus}
    if limits.gpus:
        options["num_gpus"] = limits.gpus
    if limits.memory_bytes is not None and not limits.memory_default:
        options["memory"] = limits.memory_bytes
    return options


def check_fits(options: dict[str, Any], nodes: list[NodeResources], where: str) -> None:
    """InvalidInput naming what the cluster has when no node of `nodes` holds `options`."""
    cpus = float(options.get("num_cpus", 0))
    gpus = float(options.get("num_gpus", 0))
    memory = float(options.get("memory", 0))
    if any(n.cpus >= cpus and n.gpus >= gpus and n.memory >= memory for n in nodes):
        return
    asked = [f"{cpus:g} CPU(s)"] + [f"{gpus:g} GPU(s)"] * bool(gpus)
    asked += [f"{memory_text(int(memory))} of memory"] * bool(memory)
    if not nodes:
        has = "no live node"
    else:
        has = "; ".join(
            f"{n.host}: {n.cpus:g} CPUs, {n.gpus:g} GPUs, {memory_text(int(n.memory))}"
            for n in nodes
        )
    raise InvalidInput(
        f"the task asks for {', '.join(asked)} but no node of the Ray cluster at {where} has "
        f"that much ({has}): ask for less (--cpu, --memory, resource_requests) or add a node"
    )
