import Foundation
import Testing

/// Only `Sources/PolicyStore/Raw/` may import the C module: the rest of the code sees Swift types.
@Test func onlyTheRawLayerImportsCLibPQ() throws {
    let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")
    let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
    var offenders: [String] = []
    var rawImports = 0
    for case let url as URL in enumerator where url.pathExtension == "swift" {
        let text = try String(contentsOf: url, encoding: .utf8)
        let imports = text.split(separator: "\n").contains { line in
            let words = line.split(separator: " ")
            return words.contains("import") && words.last == "CLibPQ"
        }
        guard imports else { continue }
        if url.path.contains("/Sources/PolicyStore/Raw/") {
            rawImports += 1
        } else {
            offenders.append(url.path)
        }
    }
    #expect(offenders.isEmpty, "CLibPQ imported outside PolicyStore/Raw: \(offenders)")
    #expect(rawImports > 0)
}
