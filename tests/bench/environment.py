"""The first lines of a report: when, on what, with which versions and settings."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from tests.kms_servers import bao_binary
from tests.replicas import ROOT

from .report import Report
from .wrk import wrk_binary


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo").read().splitlines():  # noqa: SIM115
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return pages * size / 1e9


def _shown(value: object) -> object:
    # A report is committed: paths are shown relative to the project, never as a machine's path.
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(ROOT):
        return value.relative_to(ROOT)
    return value


def describe(report: Report, options: dict[str, object]) -> None:
    commit = _output(["git", "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "status", "--porcelain", "--untracked-files=no", ".", ":!tests/bench"])
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "cryptography", "pydantic")
    )
    report.line(f"Vault benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    changes = " (with uncommitted changes outside tests/bench)" if dirty else ""
    report.line(f"commit {commit}{changes}")
    report.line(
        f"machine: {os.cpu_count()} CPUs ({_cpu()}), {_memory_gb():.1f} GB RAM, "
        f"{platform.system()} {platform.release()}"
    )
    report.line(f"python {platform.python_version()}; {versions}")
    report.line(f"load generator: {_output([wrk_binary(), '--version'])}")
    report.line(f"openbao: {_output([str(bao_binary()), 'version'])}")
    report.line(f"postgres: {_output(['psql', '--version'])}")
    report.line("options: " + ", ".join(f"{k}={_shown(v)}" for k, v in options.items()))
    report.line(
        "vault: python -m app.serve, VAULT_LOG_LEVEL=WARNING, VAULT_ENV=production, local KEK, "
        "other settings at their defaults (or as in vault_settings); "
        "ceiling: uvicorn tests.bench.ceiling:app"
    )
