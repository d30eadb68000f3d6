"""The shape of the code, as the design card and the style guide draw it."""

import ast
import subprocess
from pathlib import Path

from tests.servers import ROOT

PRODUCT = ["config", "demo", "orders", "alerts", "stores", "ws", "platform_core", "tenants"]


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(*folders: str):
    for folder in folders:
        yield from (path for path in (ROOT / folder).rglob("*.py") if "migrations" not in path.parts)


def test_each_layer_imports_only_the_layers_below_it():
    """config → demo → orders → alerts → stores → ws → platform_core → tenants
    (the contract is in pyproject.toml; import-linter reads every import)."""
    result = subprocess.run([str(ROOT / ".venv/bin/lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout


def test_group_names_and_the_active_tenant_are_read_inside_ws_only():
    """Domain code names an audience (publish_to_store, publish_to_user), not a group string."""
    offenders = []
    for path in python_files(*(name for name in PRODUCT if name not in ("ws", "config"))):
        if "ws.groups" in imports_of(path):
            offenders.append(f"{path.relative_to(ROOT)} imports ws.groups")
        # The job queue records which tenant queued the work, a reader's
        # language falls back to the active tenant's, and a link in a push or
        # a mail names its host: the platform layer itself.
        if "connection.tenant" in path.read_text() and path.parts[-2:] not in (
            ("platform_core", "jobs.py"),
            ("platform_core", "i18n.py"),
            ("platform_core", "links.py"),
        ):
            offenders.append(f"{path.relative_to(ROOT)} reads connection.tenant")
    assert offenders == []


def test_no_test_module_imports_another():
    """Shared helpers live in tests/factories.py, tests/sockets.py and friends."""
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for name in imports_of(path):
            last = name.split(".")[-1]
            if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
