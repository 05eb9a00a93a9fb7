"""The fields a Pachyderm pipeline spec may hold: those kaon reads, and those it accepts with a
warning because they have no effect here (Kubernetes, pachd internals, 1.x tuning knobs).

Each set is keyed by where the field sits ("" = the top level). A field in neither set is an
error (with a did-you-mean over both).
"""

from __future__ import annotations

KNOWN: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "pipeline",
            "description",
            "transform",
            "input",
            "parallelism_spec",
            "datum_tries",
            "datum_timeout",
            "job_timeout",
            "resource_requests",
            "resource_limits",
            "output_branch",
            "reprocess_spec",
            "service",
            "spout",
        }
    ),
    "pipeline": frozenset({"name"}),
    "transform": frozenset(
        {
            "cmd",
            "stdin",
            "env",
            "working_dir",
            "accept_return_code",
            "err_cmd",
            "err_stdin",
            "image",
            "source",
            "datum_batching",
        }
    ),
    "parallelism_spec": frozenset({"constant", "coefficient"}),
    "resources": frozenset({"cpu", "memory", "gpu", "disk"}),
    "gpu": frozenset({"type", "number"}),
    "service": frozenset({"internal_port", "external_port"}),
    "spout": frozenset({"overwrite"}),
    "input": frozenset({"pfs", "cross", "union", "join", "group", "cron", "git"}),
    "pfs": frozenset(
        {
            "repo",
            "branch",
            "glob",
            "name",
            "empty_files",
            "lazy",
            "join_on",
            "outer_join",
            "group_by",
            "trigger",
        }
    ),
    "trigger": frozenset({"commits", "size", "all", "branch", "cron_spec", "rate_limit_spec"}),
    "cron": frozenset({"name", "spec", "repo", "overwrite", "start"}),
}

_NO_K8S = "no Kubernetes"
_AUTO = "kaon sizes its work itself"

# field -> why it has no effect here
IGNORED: dict[str, dict[str, str]] = {
    "": {
        "pod_spec": _NO_K8S,
        "pod_patch": _NO_K8S,
        "scheduling_spec": _NO_K8S,
        "tolerations": _NO_K8S,
        "sidecar_resource_limits": "no storage sidecar",
        "sidecar_resource_requests": "no storage sidecar",
        "standby": "no worker runs while a pipeline is idle anyway",
        "autoscaling": "no worker runs while a pipeline is idle anyway",
        "egress": "egress is not supported: read the output repo through the S3 gateway",
        "s3_out": "no S3 sidecar: datums reach the S3 gateway through S3_ENDPOINT",
        "cache_size": _AUTO,
        "enable_stats": "datum stats and logs are always kept",
        "max_queue_size": _AUTO,
        "chunk_spec": _AUTO,
        "datum_set_spec": _AUTO,
        "metadata": _NO_K8S,
        "salt": "kaon salts datums with the spec, code and environment",
        "spec_commit": "set by pachd",
        "reprocess": "use `kaon update pipeline --reprocess`",
        "update": "use `kaon update pipeline`",
        "dry_run": "not supported",
        "tf_job": "no Kubeflow: run training in the transform",
        "hashtree_spec": _AUTO,
        "batch": _AUTO,
        "scale_down_threshold": _NO_K8S,
        "maximum_expected_uptime": _NO_K8S,
        "determined": "no Determined integration",
        "image_pull_secrets": _NO_K8S,
        "secrets": _NO_K8S,
    },
    "pipeline": {"project": "kaon has no projects: pipelines are global"},
    "transform": {
        "user": "the transform runs as the platform's user",
        "debug": "logs are always kept",
        "dockerfile": "no container runtime: use transform.source",
        "build": "no container runtime: use transform.source",
        "memory_volume": "no container runtime",
        "secrets": _NO_K8S,
        "image_pull_secrets": _NO_K8S,
    },
    "service": {"type": _NO_K8S, "ip": _NO_K8S, "annotations": _NO_K8S},
    "spout": {"service": "spout services are not supported", "marker": "not supported"},
    "pfs": {
        "s3": "no S3 sidecar: read /pfs, or the S3 gateway through S3_ENDPOINT",
        "repo_type": "every input repo is a user or pipeline repo",
        "commit": "the branch head is read",
        "project": "kaon has no projects",
    },
    "cron": {"project": "kaon has no projects", "commit": "the branch head is read"},
    "gpu": {},
    "parallelism_spec": {},
    "resources": {},
    "input": {},
}
