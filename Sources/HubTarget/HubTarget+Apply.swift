import Logging
public import RBACModel

extension HubTarget {
    /// Applies the `.hub` changes of a change set, in order, and returns one outcome per hub change
    /// (`.kube` changes are ignored and get no outcome).
    ///
    /// - Only users and groups in the registry are changed or deleted; an existing unmanaged user
    ///   or group is adopted (recorded, then changed) only when the options allow it, and refused
    ///   with a failed outcome otherwise.
    /// - Consecutive `createUser` changes are sent through the bulk endpoint (one request per
    ///   admin flag and batch); names are recorded in the registry before the request and
    ///   forgotten when the hub definitely did not create them.
    /// - `deleteUser` stops every server of the user, waits until the hub reports them stopped,
    ///   then deletes the user and forgets it.
    /// - A change whose dependencies did not succeed is skipped. A dependency counts as met when it
    ///   succeeded earlier in this call or is listed in `completed` (changes applied by another
    ///   target, e.g. the user's namespace).
    /// - Once the hub is unreachable, times out or refuses the token, the remaining changes are
    ///   skipped: no outcome claims success for a request that did not complete.
    /// - In a dry run nothing is written (hub or registry); changes that would be sent are
    ///   `skipped` with a "would ..." message, refusals are still reported.
    ///
    /// - Throws: `HubTargetError.hubManagesGroups` before any write when the change set holds group
    ///   changes, group sync is on and the hub manages groups; `HubTargetError.registry` when the
    ///   registry cannot be read.
    public func apply(_ changes: [Change], dryRun: Bool, completed: Set<String> = []) async throws
        -> [ChangeOutcome]
    {
        let hubChanges: [(change: Change, action: HubAction)] = changes.compactMap { change in
            if case .hub(let action) = change.target { return (change, action) }
            return nil
        }
        if hubChanges.isEmpty { return [] }
        if hubChanges.contains(where: { $0.action.isGroupChange }) {
            try await checkGroupManagement()
        }
        var run: ApplyRun
        do {
            run = ApplyRun(
                managedUsers: try await registry.managedUsers(), managedGroups: try await registry.managedGroups(),
                satisfied: completed, dryRun: dryRun)
        } catch {
            throw HubTargetError.registry("cannot read the registry: \(error)")
        }

        var outcomes: [ChangeOutcome] = []
        var index = 0
        while index < hubChanges.count {
            if case .createUser = hubChanges[index].action {
                var end = index + 1
                var batchIDs: Set<String> = [hubChanges[index].change.id]
                while end < hubChanges.count, case .createUser = hubChanges[end].action,
                    hubChanges[end].change.dependsOn.allSatisfy({ !batchIDs.contains($0) })
                {
                    batchIDs.insert(hubChanges[end].change.id)
                    end += 1
                }
                outcomes += await createUsers(hubChanges[index..<end].map(\.change), run: &run)
                index = end
            } else {
                outcomes.append(await applyOne(hubChanges[index].change, hubChanges[index].action, run: &run))
                index += 1
            }
        }
        for outcome in outcomes {
            logger.info(
                dryRun ? "hub change (dry run)" : "hub change",
                metadata: [
                    "change.id": "\(outcome.changeID)", "change.status": "\(outcome.status.rawValue)",
                    "change.message": "\(outcome.message)",
                ])
        }
        return outcomes
    }

    /// Mutable bookkeeping of one `apply` call.
    struct ApplyRun {
        var managedUsers: [String: PersonID]
        var managedGroups: Set<String>
        /// Ids of changes that succeeded (or would, in a dry run) or were completed elsewhere.
        var satisfied: Set<String>
        var dryRun: Bool
        /// Set once the hub is unreachable / times out / refuses the token.
        var halted: HubError?
        /// Set when the hub answered that group management via the API is disabled.
        var groupsDisabled = false

        /// The outcome for a change that must not run, or nil when it may.
        func precheck(_ change: Change) -> ChangeOutcome? {
            if let halted {
                return ChangeOutcome(
                    changeID: change.id, status: .skipped,
                    message: "not attempted: an earlier hub request failed (\(halted))")
            }
            if let missing = change.dependsOn.first(where: { !satisfied.contains($0) }) {
                return ChangeOutcome(
                    changeID: change.id, status: .skipped,
                    message: "not attempted: it depends on \(missing), which was not applied")
            }
            return nil
        }

        mutating func finish(_ outcome: ChangeOutcome) -> ChangeOutcome {
            if outcome.status == .succeeded || (dryRun && outcome.status == .skipped && outcome.message.hasPrefix("would")) {
                satisfied.insert(outcome.changeID)
            }
            return outcome
        }

        /// Records a hub failure; stops the run when the hub is gone.
        mutating func failure(_ change: Change, _ error: HubError, doing what: String) -> ChangeOutcome {
            switch error {
            case .unreachable, .timeout, .unauthorized: halted = error
            default: break
            }
            return ChangeOutcome(
                changeID: change.id, status: .failed, message: "\(what) failed: \(error)", httpStatus: error.httpStatus)
        }
    }

    static func person(of change: Change) -> PersonID? {
        change.person ?? change.provenance.lazy.compactMap(\.person).first ?? change.peopleLosingAccess.sorted().first
    }

    // MARK: - Users

    private func createUsers(_ changes: [Change], run: inout ApplyRun) async -> [ChangeOutcome] {
        var outcomes: [String: ChangeOutcome] = [:]
        var pending: [(change: Change, name: String, admin: Bool, person: PersonID, wasManaged: Bool)] = []
        for change in changes {
            guard case .hub(.createUser(let name, let admin)) = change.target else { continue }
            if let refusal = run.precheck(change) {
                outcomes[change.id] = refusal
                continue
            }
            guard let person = Self.person(of: change) else {
                outcomes[change.id] = ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "refused: the change names no person to record the hub user \(name) for")
                continue
            }
            if name != name.lowercased() || name.isEmpty {
                outcomes[change.id] = ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "refused: the hub would store \"\(name)\" as \"\(name.lowercased())\"; the hub username "
                        + "template must produce the name the authenticator produces")
                continue
            }
            if run.dryRun {
                outcomes[change.id] = run.finish(
                    ChangeOutcome(
                        changeID: change.id, status: .skipped,
                        message: "would create hub user \(name)\(admin ? " as admin" : "")"))
                // Later changes of the dry run may touch it as a managed user.
                run.managedUsers[name] = person
                continue
            }
            pending.append((change, name, admin, person, run.managedUsers[name] != nil))
        }

        for admin in [false, true] {
            let batch = pending.filter { $0.admin == admin }
            if batch.isEmpty { continue }
            if let halted = run.halted {
                for item in batch {
                    outcomes[item.change.id] = ChangeOutcome(
                        changeID: item.change.id, status: .skipped,
                        message: "not attempted: an earlier hub request failed (\(halted))")
                }
                continue
            }
            // Write-ahead: a create whose answer is lost still belongs to AccessSync next run.
            var recorded = Set<String>()
            var registryError: String?
            for item in batch where !item.wasManaged {
                do {
                    try await registry.recordUser(item.name, person: item.person, adopted: false)
                    recorded.insert(item.name)
                } catch {
                    registryError = "\(error)"
                    break
                }
            }
            if let registryError {
                for item in batch {
                    if recorded.contains(item.name) { try? await registry.forgetUser(item.name) }
                    outcomes[item.change.id] = ChangeOutcome(
                        changeID: item.change.id, status: .failed,
                        message: "not attempted: cannot record the user in the registry (\(registryError))")
                }
                continue
            }
            for item in batch { run.managedUsers[item.name] = item.person }

            let result = await client.createUsers(batch.map(\.name), admin: admin)
            let createdByName = Dictionary(
                result.created.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let existing = Set(result.alreadyExisting)
            for item in batch {
                let outcome: ChangeOutcome
                if createdByName[item.name] != nil {
                    outcome = ChangeOutcome(
                        changeID: item.change.id, status: .succeeded,
                        message: "created hub user \(item.name)\(admin ? " as admin" : "")", httpStatus: 201)
                } else if let normalized = createdByName[item.name.lowercased()] {
                    // Unreachable with the lowercase precheck, kept for authenticators that map names.
                    try? await registry.recordUser(normalized.name, person: item.person, adopted: false)
                    run.managedUsers[normalized.name] = item.person
                    outcome = ChangeOutcome(
                        changeID: item.change.id, status: .failed,
                        message: "the hub created the user as \(normalized.name), not \(item.name)", httpStatus: 201)
                } else if existing.contains(item.name) {
                    outcome = await existingUser(item.change, item.name, admin: admin, person: item.person,
                        wasManaged: item.wasManaged, run: &run)
                } else if let message = result.invalid[item.name] {
                    await forget(item.name, unless: item.wasManaged, run: &run)
                    outcome = ChangeOutcome(
                        changeID: item.change.id, status: .failed,
                        message: "the hub refused the username \(item.name): \(message)", httpStatus: 400)
                } else {
                    let error = result.failed[item.name] ?? .invalidResponse("no answer for \(item.name)")
                    // Only a connection that never reached the hub proves nothing was created.
                    if case .unreachable = error { await forget(item.name, unless: item.wasManaged, run: &run) }
                    outcome = run.failure(item.change, error, doing: "creating hub user \(item.name)")
                }
                outcomes[item.change.id] = run.finish(outcome)
            }
        }
        return changes.compactMap { outcomes[$0.id] }
    }

    /// A user that already existed when asked to create it: ours → make the admin flag right;
    /// adoptable → record and fix; otherwise a conflict.
    private func existingUser(
        _ change: Change, _ name: String, admin: Bool, person: PersonID, wasManaged: Bool, run: inout ApplyRun
    ) async -> ChangeOutcome {
        if !wasManaged && !options.adoptUsers {
            await forget(name, unless: false, run: &run)
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused: hub user \(name) exists but AccessSync did not create it (adopt it to manage it)",
                httpStatus: 409)
        }
        if !wasManaged {
            do {
                try await registry.recordUser(name, person: person, adopted: true)
            } catch {
                return ChangeOutcome(
                    changeID: change.id, status: .failed, message: "cannot record the adopted user: \(error)")
            }
        }
        do {
            try await client.setAdmin(name, admin: admin)
        } catch {
            return run.failure(change, error, doing: "setting the admin flag of existing hub user \(name)")
        }
        return ChangeOutcome(
            changeID: change.id, status: .succeeded,
            message: wasManaged ? "hub user \(name) already existed" : "adopted existing hub user \(name)",
            httpStatus: 200)
    }

    private func forget(_ name: String, unless keep: Bool, run: inout ApplyRun) async {
        guard !keep else { return }
        try? await registry.forgetUser(name)
        run.managedUsers[name] = nil
    }

    // MARK: - One change

    private func applyOne(_ change: Change, _ action: HubAction, run: inout ApplyRun) async -> ChangeOutcome {
        if let refusal = run.precheck(change) { return refusal }
        let outcome: ChangeOutcome
        switch action {
        case .createUser:
            // Handled in batches by the caller.
            outcome = ChangeOutcome(changeID: change.id, status: .failed, message: "internal: unbatched create")
        case .deleteUser(let name):
            outcome = await deleteUser(change, name, run: &run)
        case .setAdmin(let name, let admin):
            outcome = await setAdmin(change, name, admin: admin, run: &run)
        case .createGroup(let name):
            outcome = await createGroup(change, name, run: &run)
        case .deleteGroup(let name):
            outcome = await deleteGroup(change, name, run: &run)
        case .addGroupMembers(let group, let users):
            outcome = await changeMembers(change, group, users, add: true, run: &run)
        case .removeGroupMembers(let group, let users):
            outcome = await changeMembers(change, group, users, add: false, run: &run)
        }
        return run.finish(outcome)
    }

    private func deleteUser(_ change: Change, _ name: String, run: inout ApplyRun) async -> ChangeOutcome {
        guard run.managedUsers[name] != nil else {
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused: hub user \(name) is not in AccessSync's registry; it is never deleted")
        }
        if run.dryRun {
            return ChangeOutcome(
                changeID: change.id, status: .skipped, message: "would stop the servers of hub user \(name) and delete it")
        }
        do {
            let exists = try await client.stopAllServersAndWait(user: name)
            if exists {
                do {
                    try await client.deleteUser(name)
                } catch .notFound {
                    // Deleted meanwhile: the goal is reached.
                }
            }
            do {
                try await registry.forgetUser(name)
            } catch {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "deleted hub user \(name) but could not update the registry: \(error)", httpStatus: 204)
            }
            run.managedUsers[name] = nil
            return ChangeOutcome(
                changeID: change.id, status: .succeeded,
                message: exists ? "stopped the servers of hub user \(name) and deleted it" : "hub user \(name) was already gone",
                httpStatus: exists ? 204 : 404)
        } catch {
            return run.failure(change, error, doing: "revoking hub user \(name)")
        }
    }

    private func setAdmin(_ change: Change, _ name: String, admin: Bool, run: inout ApplyRun) async -> ChangeOutcome {
        var adopting = false
        if run.managedUsers[name] == nil {
            guard options.adoptUsers, let person = Self.person(of: change) else {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "refused: hub user \(name) is not in AccessSync's registry (adopt it to manage it)")
            }
            adopting = true
            if !run.dryRun {
                do {
                    try await registry.recordUser(name, person: person, adopted: true)
                } catch {
                    return ChangeOutcome(changeID: change.id, status: .failed, message: "cannot record the adopted user: \(error)")
                }
                run.managedUsers[name] = person
            }
        }
        let verb = admin ? "grant admin to" : "revoke admin from"
        if run.dryRun {
            return ChangeOutcome(
                changeID: change.id, status: .skipped, message: "would \(adopting ? "adopt and " : "")\(verb) hub user \(name)")
        }
        do {
            let user = try await client.setAdmin(name, admin: admin)
            guard user.admin == admin else {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "the hub still reports admin=\(user.admin) for \(name) after the change", httpStatus: 200)
            }
            return ChangeOutcome(
                changeID: change.id, status: .succeeded, message: "\(admin ? "granted admin to" : "revoked admin from") hub user \(name)",
                httpStatus: 200)
        } catch {
            return run.failure(change, error, doing: "to \(verb) hub user \(name)")
        }
    }

    // MARK: - Groups

    private func groupRefusal(_ change: Change, run: ApplyRun) -> ChangeOutcome? {
        if !options.syncGroups {
            return ChangeOutcome(changeID: change.id, status: .failed, message: "refused: hub group sync is turned off")
        }
        if run.groupsDisabled {
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused: \(HubTargetError.hubManagesGroups("(the hub answered: \(Self.managedGroupsMessage))"))")
        }
        return nil
    }

    private func createGroup(_ change: Change, _ name: String, run: inout ApplyRun) async -> ChangeOutcome {
        if let refusal = groupRefusal(change, run: run) { return refusal }
        let wasManaged = run.managedGroups.contains(name)
        if run.dryRun {
            // Later changes of the dry run may touch it as a managed group.
            run.managedGroups.insert(name)
            return ChangeOutcome(changeID: change.id, status: .skipped, message: "would create hub group \(name)")
        }
        if !wasManaged {
            do {
                try await registry.recordGroup(name, adopted: false)
            } catch {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "not attempted: cannot record the group in the registry (\(error))")
            }
            run.managedGroups.insert(name)
        }
        do {
            try await client.createGroup(name)
            return ChangeOutcome(changeID: change.id, status: .succeeded, message: "created hub group \(name)", httpStatus: 201)
        } catch .conflict {
            if wasManaged {
                return ChangeOutcome(
                    changeID: change.id, status: .succeeded, message: "hub group \(name) already existed", httpStatus: 409)
            }
            if options.adoptGroups {
                try? await registry.recordGroup(name, adopted: true)
                return ChangeOutcome(
                    changeID: change.id, status: .succeeded, message: "adopted existing hub group \(name)", httpStatus: 409)
            }
            try? await registry.forgetGroup(name)
            run.managedGroups.remove(name)
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused: hub group \(name) exists but AccessSync did not create it (adopt it to manage it)",
                httpStatus: 409)
        } catch {
            if !wasManaged, case .unreachable = error {
                try? await registry.forgetGroup(name)
                run.managedGroups.remove(name)
            } else if !wasManaged, case .badRequest = error {
                try? await registry.forgetGroup(name)
                run.managedGroups.remove(name)
            }
            return run.failure(change, error, doing: "creating hub group \(name)")
        }
    }

    private func deleteGroup(_ change: Change, _ name: String, run: inout ApplyRun) async -> ChangeOutcome {
        if let refusal = groupRefusal(change, run: run) { return refusal }
        guard run.managedGroups.contains(name) else {
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused: hub group \(name) is not in AccessSync's registry; it is never deleted")
        }
        if run.dryRun {
            return ChangeOutcome(changeID: change.id, status: .skipped, message: "would delete hub group \(name)")
        }
        var status = 204
        do {
            try await client.deleteGroup(name)
        } catch .notFound {
            status = 404
        } catch {
            return run.failure(change, error, doing: "deleting hub group \(name)")
        }
        do {
            try await registry.forgetGroup(name)
        } catch {
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "deleted hub group \(name) but could not update the registry: \(error)", httpStatus: status)
        }
        run.managedGroups.remove(name)
        return ChangeOutcome(
            changeID: change.id, status: .succeeded,
            message: status == 204 ? "deleted hub group \(name)" : "hub group \(name) was already gone", httpStatus: status)
    }

    private func changeMembers(_ change: Change, _ group: String, _ users: [String], add: Bool, run: inout ApplyRun)
        async -> ChangeOutcome
    {
        if let refusal = groupRefusal(change, run: run) { return refusal }
        var adopting = false
        if !run.managedGroups.contains(group) {
            guard options.adoptGroups else {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "refused: hub group \(group) is not in AccessSync's registry (adopt it to manage it)")
            }
            adopting = true
        }
        let list = users.sorted().joined(separator: ", ")
        let verb = add ? "add \(list) to" : "remove \(list) from"
        if run.dryRun {
            return ChangeOutcome(
                changeID: change.id, status: .skipped, message: "would \(adopting ? "adopt and " : "")\(verb) hub group \(group)")
        }
        if adopting {
            do {
                try await registry.recordGroup(group, adopted: true)
            } catch {
                return ChangeOutcome(changeID: change.id, status: .failed, message: "cannot record the adopted group: \(error)")
            }
            run.managedGroups.insert(group)
        }
        do {
            let result: HubGroup
            if add {
                result = try await client.addGroupMembers(group, users: users)
            } else {
                result = try await client.removeGroupMembers(group, users: users)
            }
            let members = Set(result.users)
            let wrong = add ? Set(users).subtracting(members) : Set(users).intersection(members)
            guard wrong.isEmpty else {
                return ChangeOutcome(
                    changeID: change.id, status: .failed,
                    message: "hub group \(group) still \(add ? "lacks" : "has") \(wrong.sorted().joined(separator: ", "))",
                    httpStatus: 200)
            }
            return ChangeOutcome(
                changeID: change.id, status: .succeeded,
                message: "\(add ? "added \(list) to" : "removed \(list) from") hub group \(group)", httpStatus: 200)
        } catch .badRequest(let message) where message.contains(Self.managedGroupsMessage) {
            run.groupsDisabled = true
            return ChangeOutcome(
                changeID: change.id, status: .failed,
                message: "refused by the hub: \(HubTargetError.hubManagesGroups("(the hub answered: \(message))"))",
                httpStatus: 400)
        } catch {
            return run.failure(change, error, doing: "to \(verb) hub group \(group)")
        }
    }
}

extension HubAction {
    var isGroupChange: Bool {
        switch self {
        case .createGroup, .deleteGroup, .addGroupMembers, .removeGroupMembers: true
        case .createUser, .deleteUser, .setAdmin: false
        }
    }
}
