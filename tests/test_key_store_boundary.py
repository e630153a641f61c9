"""Only the key store (``app.keys``) and the envelope's own package (``app.crypto``) decrypt:
no other module calls ``.open(`` on an envelope. An import contract cannot see a method call,
so this reads the source."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
ALLOWED = ("keys", "crypto")


def _names_an_envelope(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "envelope" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "envelope" in node.attr.lower()
    return False


def envelope_opens(source: str) -> list[int]:
    """Lines calling ``<something envelope>.open(...)`` or any ``.open(..., aad=...)``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "open"
        and (
            _names_an_envelope(node.func.value)
            or any(keyword.arg == "aad" for keyword in node.keywords)
        )
    ]


def test_the_check_sees_an_envelope_open() -> None:
    assert envelope_opens("await self.envelope.open(sealed, aad=aad)") == [1]
    assert envelope_opens("kek.envelope.open(x, aad=b)\nvault.open(x, aad=b)") == [1, 2]
    assert envelope_opens("path.open('rb')\nos.open(path, flags)") == []


def test_only_the_key_store_opens_sealed_values() -> None:
    outside = [
        f"{path.relative_to(APP.parent)}:{line}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).parts[0] not in ALLOWED
        for line in envelope_opens(path.read_text())
    ]
    assert outside == [], "decrypt through app.keys.keystore instead"
