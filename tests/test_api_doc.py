"""`docs/api.md`, the contract other services rely on, says what the served app does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import Settings
from app.crypto import LocalKeyring
from app.main import create_app
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|ANY) (/[^`\s?]*)")
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _shape(path: str) -> str:
    # Parameter names are the code's business; their places are the contract's.
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/"))


def documented() -> set[tuple[str, str]]:
    return {(method, _shape(path)) for method, path in ENDPOINT.findall(DOC)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("doc")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{folder / 'vault.db'}",
        local_keks=LocalKeyring.generate_spec("doc"),
    )
    spec = create_app(settings).openapi()
    return {
        (method.upper(), _shape(path))
        for path, operations in spec["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def test_every_served_operation_is_documented(served: set[tuple[str, str]]) -> None:
    missing = sorted(served - documented())
    assert not missing, f"served but not in docs/api.md: {missing}"


def test_every_documented_api_endpoint_is_served(served: set[tuple[str, str]]) -> None:
    served_paths = {path for _, path in served}
    stale = sorted(
        (method, path)
        for method, path in documented()
        if path.startswith("/v1/")
        and ((method, path) not in served if method != "ANY" else path not in served_paths)
    )
    assert not stale, f"in docs/api.md but not served: {stale}"


def test_every_documented_setting_exists() -> None:
    names = set(re.findall(r"`VAULT_([A-Z0-9_]+)`", DOC))
    unknown = sorted(n for n in names if n.lower() not in Settings.model_fields)
    assert not unknown, f"docs/api.md names settings the vault does not read: {unknown}"


AUDIT_LIST = re.compile(r"^(Audit actions?|Actions):(.*?)(?:\n\n|\Z)", re.M | re.S)


def test_every_documented_audit_action_is_recorded_by_the_code() -> None:
    actions = {
        action
        for match in AUDIT_LIST.finditer(DOC)
        for action in re.findall(r"`([a-z_]+\.[a-z_]+)`", match.group(2))
    }
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(ROOT / "app").rglob("*.py"))
    unknown = sorted(a for a in actions if f'"{a}"' not in source)
    assert len(actions) > 10, "docs/api.md lists the audit actions"
    assert not unknown, f"audit actions no code records: {unknown}"
