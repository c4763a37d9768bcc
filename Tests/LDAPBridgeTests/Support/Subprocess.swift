import Foundation

/// Runs a program with posix_spawn and waits for it on a dispatch thread (not the cooperative
/// pool). Foundation's `Process.waitUntilExit` was seen to hang here when the child leaves a
/// daemon behind (slapd.sh starts slapd in the background), so tests use this instead.
/// Output (stdout and stderr) goes to `outputFile`.
func runSubprocess(_ argv: [String], outputFile: String, environment extra: [String: String] = [:]) async throws -> Int32 {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            defer { for pointer in cArguments { free(pointer) } }
            var environment = ProcessInfo.processInfo.environment
            for (key, value) in extra { environment[key] = value }
            var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in cEnvironment { free(pointer) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, &cEnvironment)
            guard rc == 0 else {
                continuation.resume(throwing: SubprocessFailed(command: argv.joined(separator: " "), output: "spawn failed: \(rc)"))
                return
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let exited = (status & 0x7f) == 0
            continuation.resume(returning: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        }
    }
}

struct SubprocessFailed: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed: \(output)" }
}
