"""Connecting to Ray: an existing cluster by address, or a small local instance on this machine."""

from __future__ import annotations

import os
from types import ModuleType

from matcher.errors import MatcherError

LOCAL_CPUS = 2
LOCAL_OBJECT_STORE = 256 * 1024**2  # bytes: a chunk's rows and a batch of vectors are a few MB
_ENV_PREFIX = "MATCHER_"


def ray_module() -> ModuleType:
    """The `ray` package (an optional extra).

    Raises:
        MatcherError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise MatcherError("Ray is not installed: install the extra with `pip install -e \".[ray]\"` "
                           "(or run without --engine ray)") from None
    return ray


def connect(address: str | None = None) -> ModuleType:
    """Start or join Ray once per process.

    Args:
        address: a cluster's address ("ray://HOST:10001" for Ray Client, "HOST:6379" or "auto" on a cluster node);
            None starts a local instance with `LOCAL_CPUS` CPUs and a `LOCAL_OBJECT_STORE` object store.

    Returns:
        The initialised `ray` module.

    Raises:
        MatcherError: Ray is not installed or the cluster cannot be reached.
    """
    ray = ray_module()
    if ray.is_initialized():
        return ray
    # the workers read the same settings as this process (encoder, cache folder, lock timeout)
    runtime_env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(num_cpus=LOCAL_CPUS, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False,
                     runtime_env=runtime_env, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MatcherError(f"cannot start or reach Ray{f' at {address}' if address else ''} ({exc})") from None
    return ray


def worker_count(ray: ModuleType) -> int:
    """How many single-CPU workers the connected cluster can run at once (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
