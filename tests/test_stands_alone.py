"""The project stands alone: no tracked file reaches outside the repository.

Files beside a checkout on the team's machines, or a path of one of those machines, exist only
there: a clone anywhere else (a new maintainer, CI elsewhere) would fail or dangle. The
patterns are assembled so this file does not match itself.
"""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

OUTSIDE = ["../" + "shared", "/" + "work/", "/" + "root/", "/" + "home/", "/" + "Users/"]


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    offenders = []
    for name in tracked_files():
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the work tree
        offenders += [f"{name}: {p}" for p in OUTSIDE if p in text]
    assert not offenders, f"files that reach outside the repository: {offenders}"
