public import Foundation

/// How to reach a JupyterHub's REST API.
public struct HubClientConfiguration: Sendable {
    /// The API root, e.g. `https://hub.example.org/hub/api` (a trailing slash is ignored).
    public var apiURL: URL
    public var token: HubToken
    /// PEM file with the CA certificate(s) that sign the hub's certificate; nil = system trust store.
    public var caFile: String?
    /// TLS certificate verification (on by default; turning it off is for broken labs only).
    public var verifyCertificates: Bool
    /// TCP connect timeout.
    public var connectTimeout: Duration
    /// Deadline for one request, from sending to the last byte of the answer.
    public var requestTimeout: Duration
    /// Users or groups per page when listing (the hub caps it at its `api_page_default_limit`/max).
    public var pageSize: Int
    /// Most usernames sent in one bulk `POST /users`.
    public var bulkCreateLimit: Int
    /// How long to wait for a user's server to stop before giving up on the revocation.
    public var serverStopTimeout: Duration
    /// Interval between polls while a server is stopping.
    public var pollInterval: Duration

    public init(
        apiURL: URL, token: HubToken, caFile: String? = nil, verifyCertificates: Bool = true,
        connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30), pageSize: Int = 200,
        bulkCreateLimit: Int = 100, serverStopTimeout: Duration = .seconds(120), pollInterval: Duration = .milliseconds(250)
    ) {
        self.apiURL = apiURL
        self.token = token
        self.caFile = caFile
        self.verifyCertificates = verifyCertificates
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.pageSize = pageSize
        self.bulkCreateLimit = bulkCreateLimit
        self.serverStopTimeout = serverStopTimeout
        self.pollInterval = pollInterval
    }
}
