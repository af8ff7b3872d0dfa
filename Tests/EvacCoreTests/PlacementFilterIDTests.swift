import EvacCore
import Foundation
import Testing

/// The filter ids are one enum; the plan file's schema must list exactly its ids, or a plan file
/// with a new filter's refusal would fail validation (or the schema accept ids evac never writes).
@Suite struct PlacementFilterIDTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/planfile.schema.json")

    @Test func theSchemaListsEveryFilterIdOnce() throws {
        let text = try String(contentsOf: Self.schema, encoding: .utf8)
        let ids = PlacementFilter.allCases.map(\.rawValue)
        #expect(Set(ids).count == ids.count, "ids are unique")
        let listed = "\"enum\": [" + ids.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        // Once for a candidate's filter, once for a refusal tally's.
        #expect(text.components(separatedBy: listed).count - 1 == 2, "schema lists \(ids)")
    }

    @Test func idsRoundTripThroughTheirJSONString() throws {
        let r = Rejection(target: "t", filter: .storageCopy, reason: "no pool")
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(json.contains("\"storage-copy\""), "\(json)")
        #expect(try JSONDecoder().decode(Rejection.self, from: Data(json.utf8)) == r)
        let unknown = #"{"target":"t","filter":"no-such-filter","reason":"r"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Rejection.self, from: Data(unknown.utf8)) }
    }
}
