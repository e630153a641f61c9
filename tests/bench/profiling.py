"""Where one vault worker spends its time under load: ``py-spy record`` and a text summary.

py-spy samples the worker (``--nonblocking``: it does not pause it) while a load runs, and
writes collapsed stacks. The summary gives, as a share of the samples in which the worker
was running Python (idle waits are not sampled): the functions with the most inclusive and
most self time, and a few named parts of the hot path. py-spy needs ptrace rights (root, or
``kernel.yama.ptrace_scope=0``); without them the profile is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.replicas import ROOT

from .wrk import Result

_LINE_NO = re.compile(r":\d+\)$")
# (label, substring of a frame): inclusive share of samples whose stack contains it.
PARTS = (
    ("RSA sign (crypto/signing.py sign_request)", "sign_request ("),
    ("caller directory (clients/directory.py)", "clients/directory.py"),
    ("snapshot cache (headers/snapshot.py)", "headers/snapshot.py"),
    ("snapshot read (headers/reader.py)", "headers/reader.py"),
    ("key store (keys/keystore.py)", "keys/keystore.py"),
    ("  envelope open (crypto/envelope.py)", "Envelope.open ("),
    ("  key parse (crypto/private_keys.py)", "load_sealed_pkcs8 ("),
    # Any TTLCache's: in the scale run (signature credentials only) the key cache's.
    ("  TTL cache insert and eviction (cachetools)", "TTLCache.__setitem__ ("),
    ("audit batcher flush (audit/batcher.py)", "audit/batcher.py"),
    ("SQLAlchemy", "sqlalchemy/"),
    ("asyncpg", "asyncpg/"),
    ("pydantic", "pydantic"),
    ("FastAPI / Starlette", "fastapi/"),
    ("request middleware (ops/middleware.py)", "ops/middleware.py"),
    ("prometheus metrics", "prometheus_client/"),
    ("uvicorn protocol (httptools)", "uvicorn/protocols"),
    ("logging", "logging/"),
)


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    command = [
        binary,
        "record",
        "--nonblocking",
        "--format",
        "raw",
        "--rate",
        "250",
        "--duration",
        str(int(seconds)),
        "--pid",
        str(pid),
        "--output",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _short(frame: str) -> str:
    frame = _LINE_NO.sub(")", frame)
    frame = re.sub(r"\(\S*site-packages/", "(", frame)
    return frame.replace(f"({ROOT}/", "(")


def _innermost_app(frames: list[str]) -> str:
    for frame in reversed(frames):
        if "(app/" in frame:
            return frame
    return "(no vault frame: server, event loop, framework)"


def summarise(collapsed: str, seconds: float, rate: int = 250, top: int = 14) -> list[str]:
    """Shares of samples: named parts (inclusive), innermost vault function, self time."""
    own: Counter[str] = Counter()
    by_app: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        by_app[_innermost_app(frames)] += count
        for label, needle in PARTS:
            if needle in stack:
                parts[label] += count
    if total == 0:
        return ["py-spy recorded no samples"]
    busy = total / (seconds * rate)
    out = [f"{total} samples of running Python in {seconds:.0f} s (~{busy:.0%} of one core)"]
    out.append("parts (share of samples whose stack contains it; parts overlap):")
    out += [
        f"  {parts[label] / total:6.1%}  {label}"
        for label, _ in PARTS
        if parts[label] * 2000 >= total
    ]
    out.append("innermost vault function on the stack (time in it and in what it calls):")
    out += [f"  {n / total:6.1%}  {f}" for f, n in by_app.most_common(top)]
    out.append("functions by self time:")
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return out


def during(pid: int, seconds: float, work: Path, load: Callable[[], Result]) -> list[str]:
    """Run ``load`` while py-spy records ``pid``; the summary, or why there is none."""
    out = work / f"profile-{pid}-{int(time.time())}.txt"
    try:
        spy = start(pid, seconds, out)
    except RuntimeError as exc:
        return [f"skipped: {exc}"]
    time.sleep(0.5)
    result = load()
    spy_output = spy.communicate(timeout=60)[0].decode(errors="replace")
    if spy.returncode != 0 or not out.exists():
        return [f"skipped: py-spy failed: {spy_output.strip()[-500:]}"]
    header = f"(this run: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms; not scored)"
    return [header, *summarise(out.read_text(), seconds)]
