"""The composition root: the one place that names concrete backends, chosen by URL scheme
(registry), and wires the services over them (wire) into the Platform (platform)."""

from kaon.wiring.platform import PIPELINES_KEY, Backends, Platform
from kaon.wiring.registry import (
    DATABASES,
    ENV_BUILDERS,
    EXECUTORS,
    OBJECT_STORES,
    REPLICAS,
    open_object_store,
    platform_paths,
    server_id,
)
from kaon.wiring.wire import build, wire

__all__ = [
    "DATABASES",
    "ENV_BUILDERS",
    "EXECUTORS",
    "OBJECT_STORES",
    "PIPELINES_KEY",
    "REPLICAS",
    "Backends",
    "Platform",
    "build",
    "open_object_store",
    "platform_paths",
    "server_id",
    "wire",
]
