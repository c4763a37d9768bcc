public import Foundation
import HubTarget
public import KubeTarget
public import Logging
public import RBACModel

/// `accesssync report unmanaged`: access AccessSync does not manage and would not grant —
/// RoleBindings and ClusterRoleBindings (not ours) whose User subjects name people who are gone
/// from the directory or disabled, and hub admins no grant or override makes admins.
public struct UnmanagedReport: Hashable, Sendable, Codable {
    public struct Binding: Hashable, Sendable, Codable {
        /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
        public var binding: String
        public var roleRef: String
        public var subject: String
        /// The person's identifier when the subject names someone in the directory.
        public var person: String?
        /// `not in the directory` or `disabled in the directory`.
        public var status: String
    }

    public struct HubAdmin: Hashable, Sendable, Codable {
        public var name: String
        public var person: String?
        public var reason: String
    }

    public var bindings: [Binding]
    public var hubAdmins: [HubAdmin]
    public var notes: [String]

    public var isEmpty: Bool { bindings.isEmpty && hubAdmins.isEmpty }

    /// Pure: classifies what was listed against the directory and the desired state.
    /// - Parameters:
    ///   - bindings: every binding in the cluster (ours are skipped by their labels).
    ///   - hubUsers: the hub's users as (name, admin); nil when no hub is configured.
    public static func build(
        bindings: [ClusterBinding], hubUsers: [(name: String, admin: Bool)]?, directory: DirectorySnapshot,
        desired: DesiredState, settings: PlanSettings
    ) -> UnmanagedReport {
        var report = UnmanagedReport(bindings: [], hubAdmins: [], notes: [])
        let template = settings.naming.subjectTemplate
        let prefix = template.firstIndex(of: "{").map { String(template[..<$0]) } ?? template
        let suffix = template.lastIndex(of: "}").map { String(template[template.index(after: $0)...]) } ?? ""
        for binding in bindings.sorted(by: { $0.reference < $1.reference }) {
            if binding.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue,
                binding.labels[ManagedKeys.instance] == settings.instance
            {
                continue
            }
            for subject in binding.subjects where subject.kind == .user {
                let status: String
                var personID: String?
                if let owner = desired.subjectOwners[subject.name], let person = directory.people[owner] {
                    guard person.disabled else { continue }
                    status = "disabled in the directory"
                    personID = owner.rawValue
                } else {
                    // Only names shaped like our subjects can be people; system users never are.
                    guard !subject.name.hasPrefix("system:"), subject.name.hasPrefix(prefix), subject.name.hasSuffix(suffix),
                        subject.name.count > prefix.count + suffix.count
                    else { continue }
                    status = "not in the directory"
                }
                report.bindings.append(
                    Binding(
                        binding: binding.reference, roleRef: "\(binding.roleRef.kind.rawValue) \(binding.roleRef.name)",
                        subject: subject.name, person: personID, status: status))
            }
        }
        if let hubUsers {
            let desiredUsers = desired.hub.users
            for user in hubUsers.sorted(by: { $0.name < $1.name }) where user.admin {
                if let wanted = desiredUsers[user.name] {
                    if wanted.admin { continue }
                    report.hubAdmins.append(
                        HubAdmin(
                            name: user.name, person: wanted.person.rawValue,
                            reason: "a hub user by policy, but no grant or override makes them an admin"))
                } else {
                    let person = desired.entitlements.values.first { $0.hubUsername == user.name }
                    report.hubAdmins.append(
                        HubAdmin(
                            name: user.name, person: person?.person.rawValue,
                            reason: person == nil
                                ? "no person in the directory has this hub username; the policy grants nothing"
                                : "the policy gives this person no hub access"))
                }
            }
        } else {
            report.notes.append("no hub is configured (hub.url): hub admins not checked")
        }
        return report
    }

    public static func text(_ report: UnmanagedReport) -> String {
        var out = ""
        out += "bindings naming people who are gone or disabled (not managed by AccessSync):\n"
        if report.bindings.isEmpty { out += "  none\n" }
        for item in report.bindings {
            out += "  \(item.binding) → \(item.roleRef): User \(item.subject) — \(item.status)\n"
        }
        out += "\nhub admins not granted by the policy:\n"
        if report.hubAdmins.isEmpty { out += "  none\n" }
        for admin in report.hubAdmins { out += "  \(admin.name) — \(admin.reason)\n" }
        for note in report.notes { out += "\nnote: \(note)\n" }
        return out
    }

    public static func json(_ report: UnmanagedReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Reads what `report unmanaged` needs and builds the report.
public enum ReportCommand {
    public static func unmanaged(configuration: Configuration, now: Date = Date(), logger: Logger)
        async throws(CommandFailure) -> UnmanagedReport
    {
        let inputs = try await PlanInputs.read(configuration, now: now, logger: logger)
        var bindings: [ClusterBinding] = []
        var notes: [String] = []
        switch configuration.kubernetes.mode {
        case .render:
            notes.append("kubernetes.mode is render: there is no cluster to inspect")
        case .kubeconfig, .inCluster:
            guard let clientConfiguration = try configuration.kubernetes.clientConfiguration() else {
                throw CommandFailure(.configuration, "kubernetes: no client configuration")
            }
            let client: KubeClient
            do {
                client = try KubeClient(
                    configuration: clientConfiguration, options: configuration.kubernetes.clientOptions, logger: logger)
            } catch {
                throw CommandFailure(.configuration, "kubernetes: \(error)")
            }
            do {
                bindings = try await KubeClusterTarget(client: client, instance: configuration.sync.instance, logger: logger)
                    .listAllBindings()
            } catch {
                try? await client.shutdown()
                throw CommandFailure(.kubernetesUnavailable, "cannot list RoleBindings and ClusterRoleBindings: \(error)")
            }
            try? await client.shutdown()
        }
        var hubUsers: [(name: String, admin: Bool)]?
        if configuration.hub.url != nil {
            let client: HubClient
            do {
                client = try HubClient(configuration: try configuration.hub.clientConfiguration())
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure(.configuration, "hub: \(error)")
            }
            do {
                hubUsers = try await client.listUsers().map { ($0.name, $0.admin) }
            } catch {
                try? await client.shutdown()
                throw CommandFailure(.hubUnavailable, "cannot list the hub's users: \(error)")
            }
            try? await client.shutdown()
        }
        var report = UnmanagedReport.build(
            bindings: bindings, hubUsers: hubUsers, directory: inputs.directory, desired: inputs.desired,
            settings: configuration.planSettings)
        report.notes = notes + report.notes
        return report
    }
}
