"""The metrics contract (docs/metrics.md) and the Grafana dashboard (deploy/grafana/): the
dashboard queries only metrics and labels the contract defines, and shows every metric.
Issue 9 item 3 (dashboard part)."""
from __future__ import annotations

import json
import re

from conftest import REPO

CONTRACT = REPO / "docs/metrics.md"
DASHBOARD = REPO / "deploy/grafana/accesssync-dashboard.json"
# The names the lead fixed for issue 9 item 3.
EXPECTED = {
    "accesssync_run_duration_seconds": ("gauge", {"phase"}),
    "accesssync_changes_total": ("counter", {"kind", "action", "outcome"}),
    "accesssync_people_losing_access": ("gauge", set()),
    "accesssync_people_with_access": ("gauge", set()),
    "accesssync_run_failures_total": ("counter", set()),
    "accesssync_run_blocked_total": ("counter", set()),
    "accesssync_last_success_timestamp_seconds": ("gauge", set()),
    "accesssync_audit_head_info": ("gauge", {"hash"}),
}
# Labels added by the transport (Pushgateway grouping key / scrape).
TRANSPORT_LABELS = {"job", "instance"}


def contract() -> dict[str, tuple[str, set[str]]]:
    text = CONTRACT.read_text()
    table = text[text.index("## Metrics"):text.index("### Label values")]
    out = {}
    for name, kind, labels in re.findall(r"^\| `(accesssync_\w+)` \| (\w+) \| ([^|]*) \|", table, flags=re.M):
        out[name] = (kind, set(re.findall(r"`(\w+)`", labels)))
    return out


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    return queries


def test_contract_lists_exactly_the_agreed_metrics():
    assert contract() == EXPECTED


def test_example_exposition_matches_the_contract():
    text = CONTRACT.read_text()
    example = text[text.index("## Example"):text.index("## Suggested alerts")]
    types = dict(re.findall(r"^# TYPE (\w+) (\w+)$", example, flags=re.M))
    assert types == {name: kind for name, (kind, _) in EXPECTED.items()}
    for name, labels in re.findall(r"^(accesssync_\w+)(?:\{([^}]*)\})? \S+$", example, flags=re.M):
        got = set(re.findall(r"(\w+)=", labels))
        assert got == EXPECTED[name][1], f"{name}: {got}"


def test_dashboard_uses_only_contract_metrics_and_labels():
    queries = dashboard_queries()
    assert queries
    used = set()
    for query in queries:
        for name in re.findall(r"\baccesssync_\w+", query):
            assert name in EXPECTED, f"dashboard queries unknown metric {name}: {query}"
            used.add(name)
        for selector in re.findall(r"accesssync_\w+\{([^}]*)\}", query):
            for label in re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", selector):
                assert label in TRANSPORT_LABELS | set().union(*(l for _, l in EXPECTED.values())), label
        for grouping in re.findall(r"\bby \(([^)]*)\)", query):
            for label in re.split(r"\s*,\s*", grouping.strip()):
                assert label in TRANSPORT_LABELS | set().union(*(l for _, l in EXPECTED.values())), label
    assert used == set(EXPECTED), f"metrics the dashboard does not show: {sorted(set(EXPECTED) - used)}"


def test_dashboard_is_importable_json():
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
