import AccessSyncCore
import Foundation
import PolicyFiles
import RBACModel
import Testing

let sampleLDIF = repositoryRoot.appendingPathComponent("examples/sample-org.ldif").path
let samplePolicy = repositoryRoot.appendingPathComponent("policies").path
let sampleConfig = repositoryRoot.appendingPathComponent("examples/render.yaml").path
let sampleNow = RFC3339.parse("2025-06-30T12:00:00Z")!

/// The failure of a render that must fail.
func renderFailure(_ options: RenderCommand.Options, sourceLocation: SourceLocation = #_sourceLocation) -> CommandFailure? {
    do {
        _ = try RenderCommand.run(options, renderer: InterimRenderer())
        Issue.record("expected the render to fail", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("render (command logic)")
struct RenderCommandTests {
    @Test func rendersTheSampleOrganisationDeterministically() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let first = root.appendingPathComponent("first").path
        let second = root.appendingPathComponent("second").path
        let options = RenderCommand.Options(
            directoryFile: sampleLDIF, policyDirectory: samplePolicy, outputDirectory: first, configurationFile: sampleConfig,
            now: sampleNow)
        let outcome = try RenderCommand.run(options, renderer: InterimRenderer())
        #expect(outcome.summary.written.contains("hub.json"))
        var again = options
        again.outputDirectory = second
        _ = try RenderCommand.run(again, renderer: InterimRenderer())
        #expect(try directoryContents(first) == (try directoryContents(second)))
        // Rendering into the same directory again changes nothing.
        let rerun = try RenderCommand.run(options, renderer: InterimRenderer())
        #expect(rerun.summary.written.isEmpty)
        #expect(rerun.summary.unchanged.count == outcome.summary.written.count)
    }

    @Test func missingInputsAreNoInput() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("out").path
        let missingLDIF = renderFailure(.init(
            directoryFile: root.appendingPathComponent("none.ldif").path, policyDirectory: samplePolicy,
            outputDirectory: out, now: sampleNow))
        #expect(missingLDIF?.exitStatus == .noInput)
        #expect(missingLDIF?.message.contains("none.ldif: LDIF file does not exist") == true)
        let missingPolicy = renderFailure(.init(
            directoryFile: sampleLDIF, policyDirectory: root.appendingPathComponent("nopolicy").path, outputDirectory: out,
            configurationFile: sampleConfig, now: sampleNow))
        #expect(missingPolicy?.exitStatus == .noInput)
        #expect(missingPolicy?.message.contains("policy directory does not exist") == true)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func malformedLDIFIsADataErrorNamingTheLine() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let ldif = root.appendingPathComponent("bad.ldif")
        try "dn: cn=a,dc=example,dc=org\ncn: a\njpegPhoto:< file:///etc/passwd\n".write(to: ldif, atomically: true, encoding: .utf8)
        let failure = renderFailure(.init(
            directoryFile: ldif.path, policyDirectory: samplePolicy, outputDirectory: root.appendingPathComponent("out").path,
            now: sampleNow))
        #expect(failure?.exitStatus == .dataError)
        #expect(failure?.message.hasPrefix("\(ldif.path):3: URL values") == true)
    }

    @Test func invalidPolicyIsADataErrorNamingFileLineAndField() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let policy = root.appendingPathComponent("policy")
        try FileManager.default.createDirectory(at: policy, withIntermediateDirectories: true)
        try "tiers:\n  - name: t\n    rank: 1\n    quota: {limits.memory: 16GB}\n".write(
            to: policy.appendingPathComponent("tiers.yaml"), atomically: true, encoding: .utf8)
        let out = root.appendingPathComponent("out").path
        let failure = renderFailure(.init(
            directoryFile: sampleLDIF, policyDirectory: policy.path, outputDirectory: out, configurationFile: sampleConfig,
            now: sampleNow))
        #expect(failure?.exitStatus == .dataError)
        #expect(failure?.message.contains("\(policy.path)/tiers.yaml:4:") == true)
        #expect(failure?.message.contains("tiers[0].quota[limits.memory]: invalid quantity \"16GB\"") == true)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func unwritableOutputIsCannotCreate() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("occupied")
        try "not a directory".write(to: file, atomically: true, encoding: .utf8)
        for out in [file.path, file.appendingPathComponent("below").path] {
            let failure = renderFailure(.init(
                directoryFile: sampleLDIF, policyDirectory: samplePolicy, outputDirectory: out,
                configurationFile: sampleConfig, now: sampleNow))
            #expect(failure?.exitStatus == .cannotCreate, "\(out)")
        }
    }

    @Test func badConfigurationIsConfiguration() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = root.appendingPathComponent("c.yaml")
        try "naming:\n  namespce: x\n".write(to: config, atomically: true, encoding: .utf8)
        let failure = renderFailure(.init(
            directoryFile: sampleLDIF, policyDirectory: samplePolicy, outputDirectory: root.appendingPathComponent("o").path,
            configurationFile: config.path, now: sampleNow))
        #expect(failure?.exitStatus == .configuration)
        #expect(failure?.message.contains("\(config.path):2:3: naming.namespce: unknown key 'namespce' (did you mean 'namespace'?)") == true)
    }
}

/// Relative path → content of every file below `path`.
func directoryContents(_ path: String) throws -> [String: Data] {
    var result: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: path)
    while let relative = enumerator?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let full = path + "/" + relative
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
            result[relative] = FileManager.default.contents(atPath: full)
        }
    }
    return result
}
