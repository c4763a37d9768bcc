// Reads people and groups with DirectoryReader and with `ldapsearch -E pr=<page>/noprompt` (same
// server, same filters and attributes, same StartTLS transport, same bind) alternately, N times,
// and prints the medians and their ratio.
//
// Configuration comes from the test environment's variables (source the slapd env.sh):
// ACCESSSYNC_TEST_LDAP_URI, _BASE, _CA, _SYNC_DN, _SYNC_PASSWORD_FILE.
// Options: --runs N (5), --page-size N (500), --schema rfc2307bis|rfc2307 (rfc2307bis),
//          --groups-base RDN (ou=groups), --people-base RDN (ou=people), --label TEXT.
import Foundation
import LDAPBridge
import Logging
import RBACModel

@MainActor func env(_ name: String) -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
        FileHandle.standardError.write(Data("\(name) is not set: source the slapd env.sh first\n".utf8))
        exit(64)
    }
    return value
}

var runs = 5
var pageSize = 500
var schemaName = "rfc2307bis"
var groupsBase = "ou=groups"
var peopleBase = "ou=people"
var label = ""
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--runs": runs = Int(arguments.next() ?? "") ?? runs
    case "--page-size": pageSize = Int(arguments.next() ?? "") ?? pageSize
    case "--schema": schemaName = arguments.next() ?? schemaName
    case "--groups-base": groupsBase = arguments.next() ?? groupsBase
    case "--people-base": peopleBase = arguments.next() ?? peopleBase
    case "--label": label = arguments.next() ?? label
    default:
        FileHandle.standardError.write(Data("unknown option \(argument)\n".utf8))
        exit(64)
    }
}

let uri = env("ACCESSSYNC_TEST_LDAP_URI")
let base = env("ACCESSSYNC_TEST_LDAP_BASE")
let ca = env("ACCESSSYNC_TEST_LDAP_CA")
let bindDN = env("ACCESSSYNC_TEST_LDAP_SYNC_DN")
let passwordFile = env("ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE")
let schema: DirectorySchema = schemaName == "rfc2307" ? .rfc2307 : .rfc2307bis

let config = LDAPConfiguration(
    uri: uri, baseDN: base, bindDN: bindDN, password: .file(passwordFile), tls: .init(caFile: ca), pageSize: pageSize,
    schema: schema, people: .init(base: peopleBase), groups: .init(base: groupsBase))

// The same attributes the reader requests.
let personAttributes = [
    schema.identifierAttribute, schema.loginAttribute, schema.mailAttribute, schema.uidNumberAttribute,
    schema.gidNumberAttribute,
] + schema.displayNameAttributes + ["pwdAccountLockedTime", "shadowExpire", "nsAccountLock"]
let groupAttributes = [schema.groupNameAttribute, schema.memberAttribute, "objectClass"]

@MainActor func ldapsearch(base searchBase: String, filter: String, attributes: [String]) throws -> Duration {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ldapsearch")
    process.arguments =
        [
            "-LLL", "-x", "-ZZ", "-H", uri, "-D", bindDN, "-y", passwordFile, "-b", searchBase,
            "-E", "pr=\(pageSize)/noprompt", filter,
        ] + attributes
    var environment = ProcessInfo.processInfo.environment
    environment["LDAPTLS_CACERT"] = ca
    process.environment = environment
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    let started = ContinuousClock.now
    try process.run()
    process.waitUntilExit()
    let elapsed = ContinuousClock.now - started
    guard process.terminationStatus == 0 else {
        FileHandle.standardError.write(Data("ldapsearch failed with status \(process.terminationStatus)\n".utf8))
        exit(1)
    }
    return elapsed
}

func median(_ values: [Duration]) -> Duration {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func ms(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return String(format: "%.1f ms", value)
}

var logger = Logger(label: "accesssync.ldap.benchmark")
logger.logLevel = .warning

var ours: [Duration] = []
var theirs: [Duration] = []
var peopleCount = 0
var groupCount = 0
var memberships = 0
for run in 0...runs {  // run 0 warms caches for both and is not counted
    let peopleTime = try ldapsearch(
        base: "\(peopleBase),\(base)", filter: schema.personFilter, attributes: personAttributes)
    let groupsTime = try ldapsearch(base: "\(groupsBase),\(base)", filter: schema.groupFilter, attributes: groupAttributes)
    let started = ContinuousClock.now
    let read = try await DirectoryReader.readWithReport(config: config, now: Date(), logger: logger)
    let elapsed = ContinuousClock.now - started
    peopleCount = read.snapshot.people.count
    groupCount = read.snapshot.groups.count
    memberships = read.snapshot.groups.values.reduce(0) { $0 + $1.memberPeople.count + $1.memberGroups.count }
    if run > 0 {
        print("  run \(run): ldapsearch people \(ms(peopleTime)) groups \(ms(groupsTime)); reader total \(ms(elapsed)) people search \(ms(read.report.peopleSearchDuration)) groups search \(ms(read.report.groupSearchDuration))")
        theirs.append(peopleTime + groupsTime)
        ours.append(elapsed)
    }
}
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
let ratio = seconds(median(ours)) / seconds(median(theirs))
print(
    "\(label.isEmpty ? "" : label + ": ")\(peopleCount) people, \(groupCount) groups, \(memberships) direct memberships, "
        + "page size \(pageSize), \(runs) runs")
print("  ldapsearch -E pr=\(pageSize)/noprompt (people + groups): median \(ms(median(theirs)))  all: \(theirs.map(ms))")
print("  DirectoryReader.read (snapshot incl. resolution):       median \(ms(median(ours)))  all: \(ours.map(ms))")
print(String(format: "  ratio reader / ldapsearch: %.2f", ratio))

if ProcessInfo.processInfo.environment["LDAP_BENCH_RAW"] != nil {
    let connection = try await LDAPConnection.connect(config, logger: logger)
    for _ in 0..<3 {
        let started = ContinuousClock.now
        let (_, summary) = try await connection.search(
            base: "\(peopleBase),\(base)", filter: schema.personFilter, attributes: personAttributes, pageSize: pageSize
        ) { (_: LDAPEntry) -> Int? in nil }
        print("  raw people search (LDAPEntry only): \(ms(ContinuousClock.now - started)) for \(summary.entries) entries")
    }
    await connection.close()
}

if ProcessInfo.processInfo.environment["LDAP_BENCH_DN"] != nil {
    let texts = (0..<10_000).map { "uid=user\($0),ou=people,dc=example,dc=org" }
    for _ in 0..<3 {
        let started = ContinuousClock.now
        var count = 0
        for text in texts { if let dn = try? DistinguishedName(text) { count += dn.rdns.count } }
        print("  DistinguishedName.init x10k: \(ms(ContinuousClock.now - started)) (\(count) rdns)")
    }
}
