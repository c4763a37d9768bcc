import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    /// The long-running mode (deploy/components/long-running): `sync` every interval, forever.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run `sync` every --interval until stopped (the Deployment's long-running mode).",
            discussion: """
                Each round is exactly `accesssync sync` (same lock, guard, audit and metrics); a failed or \
                blocked round is logged and the next one runs after the interval. Stop it with SIGTERM: a \
                round cut short is recorded as interrupted by the next one, which converges. The CronJob \
                (one sync per process) is the recommended mode; use this one where CronJobs are not allowed.
                """)

        @OptionGroup var server: ServerOptions

        @Option(name: .long, help: ArgumentHelp("Time between the end of a round and the next: 90s, 10m, 1h.", valueName: "duration"))
        var interval: String = "10m"

        @OptionGroup var metrics: MetricsOptions

        @Option(name: .long, help: ArgumentHelp("Push each round's metrics to this Pushgateway.", valueName: "url"))
        var pushgateway: String?

        @Option(name: .long, help: ArgumentHelp("Stop after N rounds (default: run forever).", valueName: "n"))
        var rounds: Int?

        static func seconds(_ text: String) -> Int? {
            guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else { return Int(text).flatMap { $0 > 0 ? $0 : nil } }
            switch unit {
            case "s": return value
            case "m": return value * 60
            case "h": return value * 3600
            default: return nil
            }
        }

        func validate() throws {
            guard Self.seconds(interval) != nil else {
                throw ValidationError("--interval must be a positive duration such as 90s, 10m or 1h, not '\(interval)'")
            }
            if let rounds, rounds < 1 { throw ValidationError("--rounds must be 1 or more") }
        }

        func run() async throws {
            let pause = Duration.seconds(Self.seconds(interval) ?? 600)
            var round = 0
            while rounds.map({ round < $0 }) ?? true {
                round += 1
                do {
                    try await runSyncOrPlan(
                        server: server, mode: .sync, serverDryRun: false, adopt: [], allowDeletes: nil, output: .text,
                        now: nil, metricsFile: metrics.metricsFile, pushgateway: pushgateway)
                } catch {
                    // The round's error was printed; the loop goes on.
                    printError("round \(round) ended with \(error); next round in \(interval)")
                }
                if let rounds, round >= rounds { break }
                try await Task.sleep(for: pause)
            }
        }
    }
}
