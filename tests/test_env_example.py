"""`.env.example` documents every setting, each with a comment."""

from __future__ import annotations

from app.config import Settings
from tests.conftest import ROOT


def test_every_setting_is_documented_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for name in Settings.model_fields:
        variable = f"VAULT_{name.upper()}"
        where = [i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{variable}=")]
        assert where, f"{variable} is not in .env.example"
        assert lines[where[0] - 1].startswith("#"), f"{variable} has no comment above it"
