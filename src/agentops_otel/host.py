"""Host environment of the process: resource attributes for spans, and ``Session.host_env``.

Collected once per process (it does not change, and psutil calls cost milliseconds).
Nothing here is collected when ``env_data_opt_out`` is set.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

from agentops_otel import semconv as sc


@functools.cache
def sdk_version() -> str:
    try:
        return metadata.version("agentops-otel")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _memory_and_disk() -> tuple[int | None, int | None]:
    try:
        import psutil

        memory = int(psutil.virtual_memory().total)
        disk = int(psutil.disk_usage(os.getcwd()).total)
        return memory, disk
    except Exception:  # psutil missing or the platform refuses: leave them out
        return None, None


def host_attributes() -> dict[str, Any]:
    """Resource attributes describing the host, OS, Python runtime, process and SDK (OpenTelemetry names)."""
    return {**_static_attributes(), sc.PROCESS_PID: os.getpid()}  # the pid changes in a forked child


@functools.cache
def _static_attributes() -> dict[str, Any]:
    memory, disk = _memory_and_disk()
    attrs: dict[str, Any] = {
        sc.HOST_NAME: socket.gethostname(),
        sc.HOST_ARCH: platform.machine(),
        sc.OS_TYPE: sys.platform if sys.platform != "win32" else "windows",
        sc.OS_DESCRIPTION: platform.platform(),
        sc.OS_VERSION: platform.release(),
        sc.PROCESS_RUNTIME_NAME: sys.implementation.name,
        sc.PROCESS_RUNTIME_VERSION: platform.python_version(),
        sc.PROCESS_RUNTIME_DESCRIPTION: sys.version,
        sc.HOST_CPU_COUNT: os.cpu_count() or 0,
        sc.SDK_VERSION: sdk_version(),
    }
    if memory is not None:
        attrs[sc.HOST_MEMORY_TOTAL] = memory
    if disk is not None:
        attrs[sc.HOST_DISK_TOTAL] = disk
    return attrs


def host_env() -> dict[str, dict[str, Any]]:
    """The AgentOps ``host_env`` shape (SDK, OS, CPU, RAM, Disk) built from :func:`host_attributes`."""
    attrs = host_attributes()
    return {
        "SDK": {"AgentOps SDK Version": attrs[sc.SDK_VERSION], "Python Version": attrs[sc.PROCESS_RUNTIME_VERSION]},
        "OS": {
            "Hostname": attrs[sc.HOST_NAME],
            "OS": attrs[sc.OS_TYPE],
            "OS Release": attrs[sc.OS_VERSION],
            "Platform": attrs[sc.OS_DESCRIPTION],
            "Machine": attrs[sc.HOST_ARCH],
        },
        "CPU": {"Total cores": attrs[sc.HOST_CPU_COUNT]},
        "RAM": {"Total": attrs.get(sc.HOST_MEMORY_TOTAL)},
        "Disk": {"Total": attrs.get(sc.HOST_DISK_TOTAL)},
    }
