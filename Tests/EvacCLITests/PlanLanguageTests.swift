import EvacCore
import EvacSchema
import EvacYAML
import Foundation
import XCTest

/// The plan language: shipped plans are valid (by the reader and by schemas/plan.schema.json),
/// invalid plans are refused by both, and every diagnostic is exactly as golden-filed.
final class PlanLanguageTests: XCTestCase {
    static let validator: JSONSchemaValidator = {
        let data = FileManager.default.contents(atPath: Repo.path("schemas/plan.schema.json"))!
        return try! JSONSchemaValidator(schemaData: data)
    }()

    func files(_ dir: String, ext: String = "yaml") -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return all.filter { $0.hasSuffix("." + ext) }.sorted().map { dir + "/" + $0 }
    }

    func node(_ path: String) throws -> Node {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try YAMLReader.parse(SourceFile(path: path, text: text)).get()
    }

    func testShippedPlansAreValid() throws {
        let plans = files(Repo.path("plans")) + files(Repo.path("plans/demo"))
        XCTAssertGreaterThanOrEqual(plans.count, 4)
        for path in plans {
            let root = try node(path)
            let schemaErrors = Self.validator.validate(JSONValue(node: root))
            XCTAssertEqual(schemaErrors, [], "\(path) against the schema")
            let (spec, diagnostics) = PlanReader.read(root, file: path)
            XCTAssertNotNil(spec, "\(path): \(diagnostics)")
            XCTAssertEqual(diagnostics.filter { $0.severity == .error }, [])
        }
    }

    /// Plans that break the schema: both the schema and the reader refuse them, and the
    /// reader's messages are golden-filed.
    func testSchemaInvalidCorpus() throws {
        let corpus = files(Repo.golden.appendingPathComponent("schema-invalid").path)
        XCTAssertGreaterThanOrEqual(corpus.count, 10)
        for path in corpus {
            let root = try node(path)
            XCTAssertFalse(
                Self.validator.validate(JSONValue(node: root)).isEmpty, "\(path) passes the schema but should not")
            try checkDiagnostics(path)
        }
    }

    /// Plans the schema cannot judge (references between sections, cycles, YAML syntax):
    /// the reader refuses them with golden-filed messages.
    func testSemanticInvalidCorpus() throws {
        let corpus = files(Repo.golden.appendingPathComponent("invalid").path)
        XCTAssertGreaterThanOrEqual(corpus.count, 5)
        for path in corpus { try checkDiagnostics(path) }
    }

    func checkDiagnostics(_ path: String) throws {
        let relative = "plans-under-test/" + URL(fileURLWithPath: path).lastPathComponent
        let r = try runEvac(["validate", path])
        XCTAssertEqual(r.status, 2, "\(path) should be invalid (exit 2); stderr: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("error:"), path)
        // Golden files name the plan by a stable relative path, not the checkout's.
        let normalized = r.stderr.replacingOccurrences(of: path, with: relative)
        let golden = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
        assertGolden(normalized, "\(dir)/\(golden).expected")
    }

    func testEveryDiagnosticNamesFileLineColumn() throws {
        for path in files(Repo.golden.appendingPathComponent("schema-invalid").path)
            + files(Repo.golden.appendingPathComponent("invalid").path)
        {
            let r = try runEvac(["validate", path])
            let lines = r.stderr.split(separator: "\n").filter { $0.contains(": error:") || $0.contains(": warning:") }
            XCTAssertFalse(lines.isEmpty, path)
            for l in lines {
                XCTAssertNotNil(
                    l.range(of: #"^.+\.yaml:\d+:\d+: (error|warning): "#, options: .regularExpression), "\(path): \(l)")
            }
        }
    }

    /// `connection:` and `migration.retry:` are read into the spec (and absent, stay nil, so
    /// that plans without them keep their plan-file bytes).
    func testConnectionDeadlinesAndRetryPolicyAreRead() throws {
        let yaml = """
            version: 1
            name: deadlines
            hosts: { a: "qemu:///system", b: "qemu+ssh://b/system" }
            sources: [a]
            targets: [ { pool: p, hosts: [b] } ]
            migration: { retry: { attempts: 5, backoff: 1m30s } }
            connection: { connect-timeout: 3s, call-timeout: 45s }
            """
        let root = try YAMLReader.parse(SourceFile(path: "d.yaml", text: yaml)).get()
        XCTAssertEqual(Self.validator.validate(JSONValue(node: root)), [])
        let (spec, diagnostics) = PlanReader.read(root, file: "d.yaml")
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(spec?.connection, ConnectionSettings(connectTimeoutMs: 3_000, callTimeoutMs: 45_000))
        XCTAssertEqual(spec?.migration.retry, RetryPolicy(attempts: 5, backoffMs: 90_000))
        XCTAssertEqual(
            spec?.connection?.keepalive.intervalSeconds, 11, "keepalive gives up after about the call timeout")
        XCTAssertEqual(spec?.connection?.keepalive.count, 3)

        let bare = try YAMLReader.parse(
            SourceFile(path: "e.yaml", text: yaml.components(separatedBy: "\nmigration:")[0])
        ).get()
        let plain = PlanReader.read(bare, file: "e.yaml").spec
        XCTAssertNil(plain?.connection)
        XCTAssertNil(plain?.migration.retry)
        XCTAssertEqual(plain?.migration.retryPolicy, .default)
    }
}
