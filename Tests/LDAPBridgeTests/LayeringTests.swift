import Foundation
import Testing

/// C stays in the raw layer: only Sources/LDAPBridge/Raw may import CLDAP.
@Suite("LDAPBridge layering")
struct LayeringTests {
    @Test func onlyTheRawLayerImportsCLDAP() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var rawFiles = 0
        var offenders: [String] = []
        for case let url as URL in enumerator where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            let importsCLDAP = text.split(separator: "\n").contains { line in
                let words = line.split(separator: " ")
                return words.contains("import") && words.last == "CLDAP"
            }
            let relative = url.path.replacingOccurrences(of: sources.path + "/", with: "")
            if relative.hasPrefix("LDAPBridge/Raw/") {
                rawFiles += importsCLDAP ? 1 : 0
            } else if importsCLDAP {
                offenders.append(relative)
            }
        }
        #expect(offenders.isEmpty, "CLDAP imported outside Sources/LDAPBridge/Raw: \(offenders)")
        #expect(rawFiles >= 1)
    }
}
