import Foundation

/// A token bucket: `rate` requests per second on average, up to `burst` at once.
///
/// Callers reserve a token and sleep until it is due, so waiting callers are served in order without
/// polling (like Go's `rate.Limiter.Reserve`).
final class RateLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private let rate: Double
    private let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    /// - Parameters:
    ///   - rate: tokens per second; `nil` or non-positive disables limiting.
    ///   - burst: bucket size (at least 1).
    init(rate: Double?, burst: Int) {
        self.rate = rate ?? 0
        self.burst = Double(max(1, burst))
        self.tokens = Double(max(1, burst))
        self.last = .now
    }

    var isUnlimited: Bool { rate <= 0 }

    func acquire() async throws {
        guard !isUnlimited else { return }
        let wait: Double = lock.withLock {
            let now = ContinuousClock.now
            let elapsed = now - last
            last = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + seconds * rate)
            tokens -= 1
            return tokens >= 0 ? 0 : -tokens / rate
        }
        if wait > 0 {
            try await Task.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up))))
        }
    }
}
