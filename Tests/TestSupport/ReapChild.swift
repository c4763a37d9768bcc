// Helpers shared by the test targets (not part of the product).
public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Waits for a child process and returns its exit status (128 + signal when killed).
///
/// Foundation's `Process` on Linux was seen missing a child's exit under load: the child stayed a
/// zombie and neither `waitUntilExit()` nor `terminationHandler` ever returned, hanging the test
/// run. The child is reaped here with `waitpid`; if Foundation reaped it first, its status is used.
public func reapChild(_ process: Process) -> Int32 {
    var status: Int32 = 0
    while true {
        let result = waitpid(process.processIdentifier, &status, 0)
        if result == process.processIdentifier { break }
        if result == -1 && errno == EINTR { continue }
        process.waitUntilExit()
        return process.terminationStatus
    }
    if (status & 0x7f) == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
}
