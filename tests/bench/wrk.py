"""Driving one target with ``wrk`` and reading its numbers.

Every target is a POST with a fixed JSON body and headers (the proxy's, a GET without one);
the scale run instead picks a random credential id from a file for every request, uniformly
or by Zipf's law. A Lua ``done`` hook prints one ``BENCH_JSON {...}`` line with the exact
counts and percentiles (microseconds), which is what is parsed; ``--latency`` keeps wrk's
own distribution in the raw output as well. wrk counts a response of status >= 400 as a
status error; none of the targets redirects, so that is every non-2xx answer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "BENCH_JSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"status_errors":%d,"socket_errors":%d,"timeouts":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write, e.timeout))
end
"""

# Uniform, or Zipf's law when a second argument gives its exponent s: the id on line k of
# the file is asked for with probability proportional to 1 / k^s (a binary search of the
# cumulative weights per request), so a few sellers make most calls, as in real traffic.
_RANDOM_ID = """
local ids = {}
local cumulative = {}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  local s = tonumber(args[2])
  if s then
    local total = 0
    for k = 1, #ids do
      total = total + 1 / (k ^ s)
      cumulative[k] = total
    end
    for k = 1, #ids do cumulative[k] = cumulative[k] / total end
  end
  math.randomseed(os.time() * 1000 + tid)
end
local pick = function()
  if #cumulative == 0 then return math.random(#ids) end
  local r, low, high = math.random(), 1, #cumulative
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < r then low = middle + 1 else high = middle end
  end
  return low
end
request = function()
  return wrk.format(nil, "/v1/credentials/" .. ids[pick()] .. "/headers")
end
"""


@dataclass(frozen=True)
class Target:
    """One thing to load: ``url`` (with path), a JSON body and request headers."""

    name: str
    url: str
    body: dict[str, object] | None
    headers: dict[str, str] = field(default_factory=dict)
    ids_file: Path | None = None  # random credential per request (``url`` is the vault's base)
    method: str = "POST"  # with body None: a GET of ``url`` (the proxy's overhead)
    zipf_s: float | None = None  # ids by Zipf's law with this exponent, else uniform


@dataclass(frozen=True)
class Result:
    target: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    timeouts: int
    other_cores: float = 0.0  # load from processes outside the benchmark meanwhile (cores)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors + self.timeouts


def _lua_string(value: str) -> str:
    level = 0
    while f"]{'=' * level}]" in value + "]":  # "a]" must not end as "a]]]"
        level += 1
    return f"[{'=' * level}[{value}]{'=' * level}]"


def lua_script(target: Target) -> str:
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    headers = dict(target.headers)
    if target.body is not None:
        lines.append(f"wrk.body = {_lua_string(json.dumps(target.body))}")
        headers = {"Content-Type": "application/json", **headers}
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    if target.ids_file is not None:
        lines.append(_RANDOM_ID)
    lines.append(_DONE)
    return "\n".join(lines)


def parse(target: str, output: str) -> Result:
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return Result(
                target=target,
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p90_ms=data["p90_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                max_ms=data["max_us"] / 1000,
                status_errors=data["status_errors"],
                socket_errors=data["socket_errors"],
                timeouts=data["timeouts"],
            )
    raise RuntimeError(f"wrk printed no {MARKER.strip()} line for {target}:\n{output[-2000:]}")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (or make bench)")
    return found


def run(
    target: Target,
    *,
    seconds: float,
    concurrency: int,
    threads: int,
    work_dir: Path,
    raw_log: Path | None = None,
) -> Result:
    """Load ``target`` for ``seconds`` with ``concurrency`` connections on ``threads``."""
    script = work_dir / f"{target.name}.lua"
    script.write_text(lua_script(target))
    url = target.url
    command = [
        wrk_binary(),
        "--latency",
        "--timeout",
        "10s",
        "-t",
        str(min(threads, concurrency)),
        "-c",
        str(concurrency),
        "-d",
        f"{seconds:g}s",
        "-s",
        str(script),
        url,
    ]
    if target.ids_file is not None:
        command += ["--", str(target.ids_file)]
        if target.zipf_s is not None:
            command.append(f"{target.zipf_s:g}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if raw_log is not None:
        with raw_log.open("a") as log:
            log.write(f"### {target.name}: {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0 or done.stderr.strip():  # a Lua error is only a line on stderr
        raise RuntimeError(f"wrk failed for {target.name}: {done.stderr or done.stdout}")
    return parse(target.name, done.stdout)
