import Foundation
import HubTarget
import KubeTarget
public import Logging
import RBACModel

extension Doctor {
    // MARK: Kubernetes

    /// Every permission of `KubePermissions.required`, asked with a SelfSubjectAccessReview
    /// (cluster-wide), one line per resource; in render mode, that the directory is writable.
    public static func checkKubernetes(_ configuration: Configuration, logger: Logger) async -> [Check] {
        let section = configuration.kubernetes
        if section.mode == .render {
            guard let directory = section.renderDirectory, !directory.isEmpty else {
                return [
                    Check(
                        "kubernetes.render", .failed, "kubernetes.mode is render but no directory is set",
                        fix: "set kubernetes.renderDirectory.")
                ]
            }
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
            if exists && isDirectory.boolValue && FileManager.default.isWritableFile(atPath: directory) {
                return [Check("kubernetes.render", .ok, "render mode: manifests are written to \(directory)")]
            }
            if !exists, FileManager.default.isWritableFile(atPath: (directory as NSString).deletingLastPathComponent) {
                return [Check("kubernetes.render", .ok, "render mode: \(directory) will be created")]
            }
            return [
                Check(
                    "kubernetes.render", .failed, "render mode: \(directory) is not a writable directory",
                    fix: "create \(directory) or correct kubernetes.renderDirectory.")
            ]
        }

        let client: KubeClient
        do {
            guard let clientConfiguration = try section.clientConfiguration() else {
                return [Check("kubernetes.api", .failed, "no client configuration", fix: "set kubernetes.mode.")]
            }
            client = try KubeClient(configuration: clientConfiguration, options: KubeClientOptions(maxConnections: 4), logger: logger)
        } catch {
            let fix =
                section.mode == .inCluster
                ? "run in a pod whose ServiceAccount token is mounted, or use kubernetes.mode: kubeconfig."
                : "check kubernetes.kubeconfig (else $KUBECONFIG, ~/.kube/config) and kubernetes.context."
            return [Check("kubernetes.api", .failed, "\(error)", fix: fix)]
        }
        let target = KubeClusterTarget(
            client: client, instance: configuration.sync.instance, fieldManager: section.fieldManager, logger: logger)
        var checks: [Check] = []
        let permissions = KubePermissions.required
        var answers: [KubePermission: Bool] = [:]
        do {
            for permission in permissions {
                answers[permission] = try await target.canI(
                    verb: permission.verb, group: permission.group, resource: permission.resource, namespace: nil)
            }
        } catch {
            let fix: String
            if let apiError = error as? KubeAPIError, apiError.code == 401 {
                fix = "the API server refused the credentials: renew the token or client certificate in the kubeconfig "
                    + "(in a pod: the ServiceAccount token)."
            } else {
                fix = "check the API server URL and CA in the kubeconfig and that the server is reachable."
            }
            try? await client.shutdown()
            return [
                Check("kubernetes.api", .failed, "SelfSubjectAccessReview failed: \(error)", fix: fix),
                Check("kubernetes.rbac", .skipped, "not checked: the API server did not answer"),
            ]
        }
        try? await client.shutdown()
        checks.append(
            Check(
                "kubernetes.api", .ok,
                "the API server answers SelfSubjectAccessReviews (\(permissions.count) permissions asked, cluster-wide)"))

        // One line per resource, in the table's order.
        var resources: [(group: String, resource: String)] = []
        for permission in permissions where !resources.contains(where: { $0 == (permission.group, permission.resource) }) {
            resources.append((permission.group, permission.resource))
        }
        for (group, resource) in resources {
            let rows = permissions.filter { $0.group == group && $0.resource == resource }
            let qualified = rows[0].qualifiedResource
            let denied = rows.filter { answers[$0] != true }
            let id = "kubernetes.rbac.\(resource)"
            if denied.isEmpty {
                checks.append(
                    Check(id, .ok, "may \(rows.map(\.verb).joined(separator: ", ")) \(qualified) cluster-wide"))
            } else {
                let reasons = denied.map { "\($0.verb): \($0.reason)" }.joined(separator: "; ")
                checks.append(
                    Check(
                        id, .failed,
                        "may not \(denied.map(\.verb).joined(separator: ", ")) \(qualified) (\(reasons))",
                        fix: "grant them to the job's identity: apply deploy/base/clusterrole.yaml and its "
                            + "ClusterRoleBinding (`kubectl auth can-i \(denied[0].verb) \(qualified)` must answer yes)."))
            }
        }
        return checks
    }

    // MARK: Hub

    /// The token's identity, admin flag and scopes, the hub's version and group management (through
    /// the API), then the settings the API cannot show, as a checklist.
    public static func checkHub(_ configuration: Configuration) async -> [Check] {
        let section = configuration.hub
        guard section.url != nil else {
            return [Check("hub", .skipped, "no hub configured (hub.url): the hub is not synced")]
        }
        let client: HubClient
        do {
            client = try HubClient(configuration: try section.clientConfiguration())
        } catch let failure as CommandFailure {
            return [Check("hub.token", .failed, failure.message, fix: "set hub.url and hub.tokenFile (or hub.tokenEnv).")]
        } catch {
            return [Check("hub.token", .failed, "\(error)", fix: "check hub.url, hub.caFile and hub.verifyTLS.")]
        }
        let target = HubTarget(
            client: client, registry: InMemoryHubRegistry(),
            options: HubTargetOptions(syncGroups: section.syncGroups, hubManagesGroups: section.managesGroups))
        let hubChecks = await target.checkConfiguration(
            usernameTemplate: configuration.naming.hubUsernameTemplate,
            namespaceTemplate: configuration.naming.namespaceTemplate)
        try? await client.shutdown()
        var checks: [Check] = []
        for check in hubChecks {
            let status: Check.Status
            switch check.status {
            case .ok: status = .ok
            case .warning: status = .warning
            case .failed: status = .failed
            case .manual: status = .manual
            }
            var fix = check.remedy
            if check.id == "hub.token", check.status == .failed {
                fix = (fix ?? "") + " The token comes from \(section.token.map(\.description) ?? "hub.tokenFile")."
            }
            checks.append(Check(check.id, status, check.detail, fix: fix))
        }
        // What AccessSync's own configuration says about groups, next to the hub's facts.
        checks.append(
            Check(
                "hub.config.manage_groups", .manual,
                section.syncGroups
                    ? "hub.syncGroups is on: Authenticator.manage_groups must be False on the hub (hub.managesGroups: "
                        + "\(section.managesGroups))."
                    : "hub.syncGroups is off: AccessSync leaves hub groups alone; manage_groups may be either.",
                fix: section.syncGroups ? "c.Authenticator.manage_groups = False" : nil))
        return checks
    }
}
