// Behaviour 14: fault injection.

import Foundation
import KubeTestServer
import Testing

@Suite("Fault injection")
struct FaultTests {
    // The 429 of API Priority and Fairness is plain text with Retry-After: k8s.io/apiserver/pkg/server/filters/
    // priority-and-fairness.go calls tooManyRequests (filters/maxinflight.go), which writes
    // "Too many requests, please try again later." with http.Error and sets Retry-After.
    @Test func tooManyRequestsIsPlainText() async throws {
        try await withServer { server, client in
            server.injectFault(FaultRule(path: "/api/v1/namespaces/*/configmaps", action: .tooManyRequests(retryAfterSeconds: 2), count: 1))
            let r = try await client.get(cmPath)
            #expect(r.status == 429)
            #expect(r.headers["retry-after"] == "2")
            #expect(r.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(r.text.hasPrefix("Too many requests, please try again later."))
            #expect(try await client.get(cmPath).status == 200)
        }
    }

    // 503/500/504 as Status objects (errors.go NewServiceUnavailable, NewInternalError, NewTimeoutError).
    @Test func serverErrors() async throws {
        try await withServer { server, client in
            server.injectFault(FaultRule(method: "GET", action: .serviceUnavailable(), count: 1))
            let unavailable = try await client.get(cmPath)
            #expect(unavailable.status == 503)
            #expect(unavailable.headers["retry-after"] == "1")
            #expect(unavailable.reason == "ServiceUnavailable")
            server.injectFault(FaultRule(action: .internalError, count: 1))
            let internalError = try await client.get(cmPath)
            #expect(internalError.status == 500)
            #expect(internalError.reason == "InternalError")
            server.injectFault(FaultRule(action: .gatewayTimeout, count: 1))
            let timeout = try await client.get(cmPath)
            #expect(timeout.status == 504)
            #expect(timeout.reason == "Timeout")
            // Method and path targeting: a POST fault does not hit GETs.
            let id = server.injectFault(FaultRule(method: "POST", path: "*/configmaps", action: .internalError))
            #expect(try await client.get(cmPath).status == 200)
            #expect(try await client.post(cmPath, configMap("a")).status == 500)
            #expect(try await client.post(cmPath, configMap("a")).status == 500)
            server.removeFault(id)
            #expect(try await client.post(cmPath, configMap("a")).status == 201)
            // Next N requests.
            server.injectFault(FaultRule(action: .internalError, count: 2))
            #expect(try await client.get(cmPath).status == 500)
            #expect(try await client.get(cmPath).status == 500)
            #expect(try await client.get(cmPath).status == 200)
        }
    }

    @Test func droppedConnectionsAndCommitThenDrop() async throws {
        try await withServer { server, client in
            server.injectFault(FaultRule(method: "POST", action: .dropConnection, count: 1))
            await #expect(throws: (any Error).self) { try await client.post(cmPath, configMap("dropped")) }
            #expect(server.object("configmaps", namespace: "default", name: "dropped") == nil)

            server.injectFault(FaultRule(method: "POST", action: .commitThenDrop, count: 1))
            await #expect(throws: (any Error).self) { try await client.post(cmPath, configMap("committed")) }
            #expect(server.object("configmaps", namespace: "default", name: "committed") != nil)
            let statuses = server.requestLog.map(\.status)
            #expect(statuses == [0, 0])
            // The retry of a committed create sees AlreadyExists, as against a real server.
            let retry = try await client.post(cmPath, configMap("committed"))
            #expect(retry.status == 409)
        }
    }

    @Test func latency() async throws {
        try await withServer({ $0.latency = .milliseconds(150) }) { server, client in
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await client.get(cmPath)
            #expect(clock.now - start >= .milliseconds(150))
            server.injectFault(FaultRule(path: "/api/v1/namespaces", action: .delay(.milliseconds(200)), count: 1))
            let s2 = clock.now
            _ = try await client.get("/api/v1/namespaces")
            #expect(clock.now - s2 >= .milliseconds(350))
        }
    }
}
