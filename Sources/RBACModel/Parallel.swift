import Dispatch
import Foundation

/// Data parallelism for the planner's per-person work, with results in input order so that output
/// stays deterministic. With one processor (or little work) everything runs on the caller's thread.
///
/// The closures are not `@Sendable`: callers pass work that only reads shared values (the
/// directory, the policy, the builder's accumulators) and returns its result, and each result is
/// written to its own slot, so no memory is written by two threads. That contract is what the
/// `UncheckedSendable` wrappers below stand for.
enum Parallel {
    /// Below this many items per thread the hand-off costs more than it saves.
    static let minimumChunk = 1024

    /// Set (for the current task) to run everything on the caller's thread: tests compare both ways.
    @TaskLocal static var sequential = false

    static var threads: Int { sequential ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `(0..<count).map(transform)`, in contiguous chunks of at least `minimumChunk` items on up to
    /// `threads` threads. There are up to four chunks per thread, taken by whichever thread is free,
    /// so that a thread that starts late or gets the costlier items does not leave the others idle.
    static func map<T>(_ count: Int, minimumChunk: Int = minimumChunk, _ transform: (Int) -> T) -> [T] {
        let threads = threads
        if threads <= 1 { return (0..<count).map(transform) }
        let chunks = min(4 * threads, count / max(1, minimumChunk))
        if chunks <= 1 { return (0..<count).map(transform) }
        return withoutActuallyEscaping(transform) { transform in
            let work = UncheckedSendable(transform)
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let base = UncheckedSendable(buffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let lower = count * chunk / chunks
                    let upper = count * (chunk + 1) / chunks
                    for index in lower..<upper { (base.value + index).initialize(to: work.value(index)) }
                }
                initialized = count
            }
        }
    }

    /// Runs `first` and `second` at the same time (on two threads when there are two processors).
    /// `second` must not touch anything `first` writes, and the reverse.
    static func both<A, B>(_ first: () -> A, _ second: () -> B) -> (A, B) {
        if threads < 2 { return (first(), second()) }
        var a: A?
        var b: B?
        withoutActuallyEscaping(first) { first in
            withoutActuallyEscaping(second) { second in
                withUnsafeMutablePointer(to: &a) { slotA in
                    withUnsafeMutablePointer(to: &b) { slotB in
                        let work = UncheckedSendable((first, second, slotA, slotB))
                        DispatchQueue.concurrentPerform(iterations: 2) { index in
                            let (first, second, slotA, slotB) = work.value
                            if index == 0 { slotA.pointee = first() } else { slotB.pointee = second() }
                        }
                    }
                }
            }
        }
        return (a!, b!)
    }
}

extension Parallel {
    /// Drops `value` on another thread, so that freeing a large structure is off the caller's path.
    /// The caller must hand over its last reference (`release(consume x)`): whichever thread drops
    /// the last reference does the freeing.
    static func release<T: Sendable>(_ value: consuming T) {
        guard threads > 1 else { return }
        // Moved into a box that only the other thread releases.
        let box = Unmanaged.passRetained(ReleaseBox(consume value))
        DispatchQueue.global(qos: .utility).async { box.release() }
    }
}

/// Holds a value handed to `Parallel.release`.
private final class ReleaseBox<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}

/// A value handed to another thread under `Parallel`'s contract (see there).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
