import AccessSyncCore
import ArgumentParser
import Foundation
import Logging
import PolicyFiles
import Synchronization

/// Options every command that talks to the servers shares.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file (default: $ACCESSSYNC_CONFIG, else /etc/accesssync/accesssync.yaml if present).",
            valueName: "file"))
    var config: String?

    @Flag(name: [.short, .long], help: "Log debug detail to standard error.")
    var verbose = false

    @Flag(name: [.short, .long], help: "Log only errors.")
    var quiet = false

    /// The configuration: the file given, `$ACCESSSYNC_CONFIG`, `/etc/accesssync/accesssync.yaml`, or defaults.
    func loadConfiguration() throws(CommandFailure) -> Configuration {
        guard let path = Configuration.resolvePath(explicit: config) else { return Configuration().applyingSecretOverrides() }
        do {
            return try Configuration.load(path: path)
        } catch {
            throw CommandFailure(.configuration, error.description)
        }
    }

    func logger(_ configuration: Configuration) -> Logger {
        var level = Logger.Level(rawValue: configuration.sync.logLevel) ?? .info
        if verbose { level = .debug }
        if quiet { level = .error }
        LogSetup.bootstrap(format: configuration.sync.logFormat, level: level)
        var logger = Logger(label: "accesssync")
        logger.logLevel = level
        return logger
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension AccessSync {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the cluster and the hub match the directory and the policy (the CronJob's command).",
            discussion: """
                Takes the writer lock, reads LDAP and the policy completely, plans, observes the cluster \
                and the hub, checks the plan against the safety guard, writes audit intent rows, applies \
                the changes (revocations first, in dependency order), writes the outcomes and prints the \
                run summary with the audit head hash. Nothing is written when any read fails or the guard \
                blocks the plan (exit 3: review with `accesssync plan`, then `accesssync approve HASH`). \
                --only-user UID reads and plans everything but applies only that person's changes \
                (guard and audit on those; the run is recorded as `sync --only-user UID`).
                """)

        @OptionGroup var server: ServerOptions

        @Option(
            name: .long, parsing: .upToNextOption,
            help: ArgumentHelp(
                "Take over unowned objects at desired names: Namespace, RoleBinding, ..., hub-users, hub-groups, or all.",
                valueName: "kind"))
        var adopt: [String] = []

        @Option(
            name: .long,
            help: ArgumentHelp("Let up to N access losses and deletions through the guard (interactive use).", valueName: "n"))
        var allowDeletes: Int?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Apply only the changes concerning this person (their namespace, bindings, hub user and groups); the others are counted and left for the next full sync.",
                valueName: "uid"))
        var onlyUser: String?

        @Option(name: .long, help: "Output format.")
        var output: OutputFormat = .text

        @OptionGroup var metrics: MetricsOptions

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Push the run's metrics to this Pushgateway (POST URL/metrics/job/accesssync/instance/<sync.instance>; default: sync.pushgatewayURL).",
                valueName: "url"))
        var pushgateway: String?

        // No --now here: a run that writes uses the real time (a future instant would expire
        // grants and delete retired namespaces early). `plan --now` shows what a date would do.
        func validate() throws {
            if let pushgateway, URL(string: pushgateway).map({ ($0.scheme == "http" || $0.scheme == "https") && $0.host != nil }) != true {
                throw ValidationError("--pushgateway must be an http(s) URL such as http://pushgateway:9091, not '\(pushgateway)'")
            }
            if let allowDeletes, allowDeletes < 0 { throw ValidationError("--allow-deletes must be 0 or more") }
            do {
                _ = try SyncCommand.diffOptions(adopt: adopt)
            } catch {
                throw ValidationError(error.message)
            }
        }

        func run() async throws {
            try await runSyncOrPlan(
                server: server, mode: .sync, serverDryRun: false, adopt: adopt, allowDeletes: allowDeletes,
                onlyUser: onlyUser, output: output, now: nil, metricsFile: metrics.metricsFile, pushgateway: pushgateway)
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what `sync` would change, grouped by person and project, with the reason for every line.",
            discussion: """
                Reads and plans exactly like sync but writes nothing (no lock, no audit rows). Prints the \
                plan hash that `accesssync approve` takes. Exit 0: no changes; 2: changes pending.
                """)

        @OptionGroup var server: ServerOptions

        @Flag(name: .long, help: "Send every change to the API server with dryRun=All to see admission rejections.")
        var serverDryRun = false

        @Option(
            name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Plan as `sync --adopt` would.", valueName: "kind"))
        var adopt: [String] = []

        @Option(
            name: .long, help: ArgumentHelp("Show only the changes `sync --only-user` would apply.", valueName: "uid"))
        var onlyUser: String?

        @Option(name: .long, help: "Output format.")
        var output: OutputFormat = .text

        @Option(name: .long, help: ArgumentHelp("The instant used for expiries (RFC 3339; default: now).", valueName: "rfc3339"))
        var now: String?

        @OptionGroup var metrics: MetricsOptions

        func validate() throws {
            if let now, RFC3339.parse(now) == nil {
                throw ValidationError("--now must be an RFC 3339 date-time such as 2025-06-30T12:00:00Z, not '\(now)'")
            }
            do {
                _ = try SyncCommand.diffOptions(adopt: adopt)
            } catch {
                throw ValidationError(error.message)
            }
        }

        func run() async throws {
            try await runSyncOrPlan(
                server: server, mode: .plan, serverDryRun: serverDryRun, adopt: adopt, allowDeletes: nil,
                onlyUser: onlyUser, output: output,
                now: now, metricsFile: metrics.metricsFile, pushgateway: nil)
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve one blocked plan by its hash (one-time, audited).",
            discussion: """
                The next sync whose plan has exactly this hash applies it despite the guard, and uses the \
                approval up. A plan that differs in any change has another hash and stays blocked.
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("The plan hash printed by `accesssync plan` or a blocked sync.", valueName: "hash"))
        var planHash: String

        @Option(name: .long, help: "Why (recorded with the approval).")
        var note: String?

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let id = try await runReportingAsync { () async throws(CommandFailure) in
                try await ApproveCommand.run(planHash: planHash, note: note, configuration: configuration)
            }
            print("approved plan \(planHash.lowercased()) (approval \(id)); the next sync with exactly this plan applies it")
        }
    }
}

/// `--metrics-file`, shared by sync and plan.
struct MetricsOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write the run's metrics (Prometheus text format, docs/metrics.md) to this file, atomically (default: sync.metricsFile).",
            valueName: "path"))
    var metricsFile: String?
}

func runSyncOrPlan(
    server: ServerOptions, mode: SyncOptions.Mode, serverDryRun: Bool, adopt: [String], allowDeletes: Int?,
    onlyUser: String? = nil, output: OutputFormat, now: String?, metricsFile: String?, pushgateway: String?
) async throws {
    let started = ContinuousClock.now
    let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
    let logger = server.logger(configuration)
    let metricsPath = metricsFile ?? configuration.sync.metricsFile
    // Only sync pushes: a plan must not replace the CronJob's figures in the Pushgateway.
    let pushURL = mode == .sync ? (pushgateway ?? configuration.sync.pushgatewayURL) : nil
    let recorded = Mutex<RunSummary?>(nil)
    var options = SyncCommand.Options(
        configuration: configuration, mode: mode, serverDryRun: serverDryRun, adopt: adopt, allowDeletes: allowDeletes,
        onlyUser: onlyUser, now: now.flatMap(RFC3339.parse) ?? Date())
    options.summaryObserver = { summary in recorded.withLock { $0 = summary } }
    let outcome: Result<SyncCommand.Result, CommandFailure>
    do {
        outcome = .success(try await SyncCommand.run(options, logger: logger))
    } catch {
        outcome = .failure(error)
    }
    if metricsPath != nil || pushURL != nil {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let metrics: RunMetrics
        switch outcome {
        case .success(let result):
            metrics = RunMetrics(result: result, mode: mode, totalSeconds: seconds, finishedAt: Date())
        case .failure(let failure):
            metrics = RunMetrics(failure: failure, summary: recorded.withLock { $0 }, totalSeconds: seconds)
        }
        // Metrics never change the run's exit status; a failure to deliver them is logged.
        if let metricsPath {
            do {
                try MetricsOutput.write(metrics, toFile: metricsPath)
            } catch {
                logger.error("metrics not written", metadata: ["metrics.file": "\(metricsPath)", "error": "\(error.message)"])
            }
        }
        if let pushURL {
            do {
                try await MetricsOutput.push(metrics, to: pushURL, instance: configuration.sync.instance)
            } catch {
                logger.error("metrics not pushed", metadata: ["metrics.pushgateway": "\(pushURL)", "error": "\(error.message)"])
            }
        }
    }
    let result = try runReporting { () throws(CommandFailure) in try outcome.get() }
    switch output {
    case .text: print(PlanFormatting.text(result.report, mode: mode), terminator: "")
    case .json: print(PlanFormatting.json(result.report, mode: mode), terminator: "")
    }
    if result.exitStatus != .ok { throw ExitCode(result.exitStatus.rawValue) }
}
