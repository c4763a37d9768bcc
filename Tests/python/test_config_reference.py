"""docs/operator-guide.md's configuration reference against the loader
(Sources/AccessSyncCore/ConfigurationLoading.swift): every key the loader accepts is documented,
and every key the guide documents is accepted. Issue 9 item 6.

The loader lists its keys explicitly (`let keys = [...]` per section, `mapping(allowedKeys: [...])`
for nested mappings, `search(...)` for people/groups); this test parses those lists. Keys the loader
accepts only to refuse them with a message (literal secrets, connection strings, cluster tokens) are
collected separately and must be listed in the guide's "Refused keys" section.
"""
from __future__ import annotations

import re

import yaml

from conftest import REPO

LOADER = REPO / "Sources/AccessSyncCore/ConfigurationLoading.swift"
GUIDE = REPO / "docs/operator-guide.md"


def _block(text: str, start: int) -> str:
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    raise AssertionError("unbalanced")


def _strings(list_text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', list_text)


def _functions(text: str) -> dict[str, str]:
    return {m.group(1): _block(text, m.end()) for m in re.finditer(r"func (\w+)\(", text)}


def loader_keys() -> tuple[set[str], set[str]]:
    """(accepted key paths, refused key paths), e.g. `ldap.tls.caFile`, `hub.token`."""
    text = LOADER.read_text()
    functions = _functions(text)
    # Helpers that read a mapping of their own (search → base/scope/filter).
    helper_keys = {}
    for name, body in functions.items():
        m = re.search(r"mapping\(allowedKeys: \[([^\]]*)\]", body)
        if m and not name.startswith("read"):
            helper_keys[name] = _strings(m.group(1))

    root = functions["read"]
    sections = _strings(re.search(r"let sections = \[([^\]]*)\]", root).group(1))
    calls = dict(re.findall(r'map\["(\w+)"\] \{ (read\w+)\(value\) \}', root))
    assert set(calls) == set(sections), f"sections {sections} vs reader calls {calls}"

    accepted, refused = set(), set()
    for section in sections:
        body = functions[calls[section]]
        top = _strings(re.search(r"let keys = \[([^\]]*)\]", body).group(1))
        assert top, f"no keys for {section}"
        accepted.update(f"{section}.{k}" for k in top)
        # Nested mappings: `map["X"] ... mapping(allowedKeys: [...])` within one statement.
        for m in re.finditer(r'map\["(\w+)"\][^{]*?\.mapping\(allowedKeys: \[([^\]]*)\]', body):
            parent = m.group(1)
            accepted.update(f"{section}.{parent}.{k}" for k in _strings(m.group(2)))
        for m in re.finditer(r'map\["(\w+)"\], let \w+ = (\w+)\(v', body):
            parent, helper = m.groups()
            if helper in helper_keys:
                accepted.update(f"{section}.{parent}.{k}" for k in helper_keys[helper])
        # Refused: secret(..., literals: [...]) and `for key in [...] where map[key] != nil { report }`.
        for m in re.finditer(r"literals: \[([^\]]*)\]", body):
            refused.update(f"{section}.{k}" for k in _strings(m.group(1)))
        for m in re.finditer(r"for key in \[([^\]]*)\] where map\[key\] != nil", body):
            refused.update(f"{section}.{k}" for k in _strings(m.group(1)))
    accepted -= refused
    return accepted, refused


def yaml_key_paths(value, prefix: str = "") -> set[str]:
    """Dotted key paths of a YAML mapping down to the configuration's leaves. Mappings whose keys
    are data (label maps, attributeEquals) stop at the key that holds them."""
    data_maps = {"kubernetes.hubPodLabels", "kubernetes.proxyPodLabels", "ldap.disabled.attributeEquals",
                 "kubernetes.hubServiceAccountRole.clusterRole", "kubernetes.hubServiceAccountRole.role"}
    out = set()
    for key, child in value.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(child, dict) and path not in data_maps:
            out |= yaml_key_paths(child, path + ".")
    return out


def _containers(paths: set[str]) -> set[str]:
    """Paths that have children (sections and nested mappings)."""
    return {p.rsplit(".", 1)[0] for p in paths if "." in p}


def guide_reference() -> tuple[set[str], set[str]]:
    """Key paths in the guide's reference tables (first column) and in its refused-keys list."""
    text = GUIDE.read_text()
    start = text.index("## Configuration reference")
    end = text.index("\n## ", start + 1)
    reference = text[start:end]
    documented = set(re.findall(r"^\| `([a-zA-Z.]+)` \|", reference, flags=re.M))
    refused_start = reference.index("### Refused keys")
    refused = set(re.findall(r"^- `([a-zA-Z.]+)`", reference[refused_start:], flags=re.M))
    return documented, refused


def test_loader_parse_is_plausible():
    accepted, refused = loader_keys()
    # A few keys known to exist today (if the parse breaks, this fails first).
    for key in ["ldap.uri", "ldap.tls.caFile", "ldap.people.base", "ldap.groups.filter",
                "ldap.disabled.activeDirectory", "ldap.memberReadCheck.canaryGroups", "postgres.sslMode",
                "kubernetes.hubServiceAccountRole.clusterRole", "hub.tokenEnv", "naming.groupSubject",
                "safety.retirementGracePeriod", "sync.logLevel"]:
        assert key in accepted, key
    assert {"ldap.password", "ldap.bindPassword", "postgres.password", "postgres.url", "hub.token",
            "kubernetes.token"} <= refused
    assert len(accepted) >= 80


def test_the_full_example_uses_only_accepted_keys():
    # examples/accesssync.yaml shows every section: each of its keys must be one the parse found.
    example = yaml.safe_load((REPO / "examples/accesssync.yaml").read_text())
    accepted, _ = loader_keys()
    unknown = yaml_key_paths(example) - accepted - _containers(accepted)
    assert not unknown, f"examples/accesssync.yaml has keys the loader parse does not know: {sorted(unknown)}"


def test_every_accepted_key_is_documented():
    accepted, _ = loader_keys()
    documented, _ = guide_reference()
    missing = accepted - documented
    assert not missing, f"docs/operator-guide.md does not document: {sorted(missing)}"


def test_every_documented_key_is_accepted():
    accepted, _ = loader_keys()
    documented, _ = guide_reference()
    extra = documented - accepted
    assert not extra, f"docs/operator-guide.md documents keys the loader rejects: {sorted(extra)}"


def test_refused_keys_are_listed_as_refused():
    _, refused = loader_keys()
    _, listed = guide_reference()
    assert listed == refused, f"refused by the loader {sorted(refused)}, listed {sorted(listed)}"
