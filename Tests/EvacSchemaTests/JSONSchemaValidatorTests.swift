import EvacSchema
import XCTest

/// Messages of validating `instance` against `schema`, both JSON text, as "path: message".
private func check(
    _ schema: String, _ instance: String, file: StaticString = #filePath, line: UInt = #line
) throws -> [String] {
    let validator = try JSONSchemaValidator(schema: JSONValue(json: schema))
    return validator.validate(try JSONValue(json: instance)).map(\.description)
}

/// Asserts `schema` accepts `good` and rejects `bad` with exactly `expected`.
private func assertKeyword(
    _ schema: String, accepts good: [String], rejects bad: String, with expected: [String],
    file: StaticString = #filePath, line: UInt = #line
) throws {
    for g in good { XCTAssertEqual(try check(schema, g), [], "\(g) should pass", file: file, line: line) }
    XCTAssertEqual(try check(schema, bad), expected, file: file, line: line)
}

final class JSONSchemaValidatorTests: XCTestCase {
    func testType() throws {
        try assertKeyword(
            #"{"type": "string"}"#, accepts: [#""x""#], rejects: "1", with: ["/: expected string, found integer"])
        try assertKeyword(
            #"{"type": ["integer", "null"]}"#, accepts: ["3", "3.0", "null"], rejects: "3.5",
            with: ["/: expected integer or null, found number"])
        try assertKeyword(
            #"{"type": "number"}"#, accepts: ["3", "3.5"], rejects: "true", with: ["/: expected number, found boolean"])
        try assertKeyword(
            #"{"type": "object"}"#, accepts: ["{}"], rejects: "[]", with: ["/: expected object, found array"])
    }

    func testEnumAndConst() throws {
        try assertKeyword(
            #"{"enum": ["live", "cold", 1]}"#, accepts: [#""cold""#, "1.0"], rejects: #""hot""#,
            with: [#"/: must be one of "live", "cold", 1; found "hot""#])
        try assertKeyword(
            #"{"const": {"a": [1]}}"#, accepts: [#"{"a": [1]}"#], rejects: #"{"a": [2]}"#,
            with: [#"/: must be {"a":[1]}; found {"a":[2]}"#])
        try assertKeyword(#"{"const": null}"#, accepts: ["null"], rejects: "0", with: ["/: must be null; found 0"])
    }

    func testPropertiesRequiredAdditional() throws {
        let schema =
            #"{"properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}"#
        try assertKeyword(
            schema, accepts: [#"{"name": "a"}"#], rejects: #"{"nme": "a"}"#,
            with: [
                #"/: missing required property "name""#, #"/nme: property "nme" is not allowed"#,
            ])
        XCTAssertEqual(try check(schema, #"{"name": 1}"#), ["/name: expected string, found integer"])
        try assertKeyword(
            #"{"additionalProperties": {"type": "integer"}}"#, accepts: [#"{"a": 1}"#], rejects: #"{"a/b": "x"}"#,
            with: ["/a~1b: expected integer, found string"])
    }

    func testPatternPropertiesAndPropertyNames() throws {
        let schema = #"{"patternProperties": {"^x-": true}, "additionalProperties": false}"#
        try assertKeyword(
            schema, accepts: [#"{"x-note": 1}"#], rejects: #"{"y": 1}"#, with: [#"/y: property "y" is not allowed"#])
        try assertKeyword(
            #"{"patternProperties": {"^n": {"type": "number"}}}"#, accepts: [#"{"n1": 2, "z": "s"}"#],
            rejects: #"{"n1": "s"}"#, with: ["/n1: expected number, found string"])
        try assertKeyword(
            #"{"propertyNames": {"pattern": "^[a-z]+$"}}"#, accepts: [#"{"ok": 1}"#], rejects: #"{"Bad": 1}"#,
            with: [#"/Bad: property name "Bad": must match the pattern "^[a-z]+$""#])
    }

    func testMinMaxProperties() throws {
        try assertKeyword(
            #"{"minProperties": 1, "maxProperties": 2}"#, accepts: [#"{"a": 1}"#, #"{"a": 1, "b": 2}"#],
            rejects: "{}", with: ["/: must have at least 1 properties"])
        XCTAssertEqual(try check(#"{"maxProperties": 1}"#, #"{"a": 1, "b": 2}"#), ["/: must have at most 1 properties"])
    }

    func testItemsAndPrefixItems() throws {
        try assertKeyword(
            #"{"items": {"type": "string"}}"#, accepts: ["[]", #"["a"]"#], rejects: #"["a", 2]"#,
            with: ["/1: expected string, found integer"])
        try assertKeyword(
            #"{"prefixItems": [{"type": "integer"}], "items": {"type": "string"}}"#, accepts: [#"[1, "a"]"#],
            rejects: #"["a", 1]"#, with: ["/0: expected integer, found string", "/1: expected string, found integer"])
    }

    func testItemCountsAndUniqueness() throws {
        try assertKeyword(
            #"{"minItems": 1, "maxItems": 2}"#, accepts: ["[1]", "[1, 2]"], rejects: "[]",
            with: ["/: must have at least 1 items; has 0"])
        XCTAssertEqual(try check(#"{"maxItems": 1}"#, "[1, 2]"), ["/: must have at most 1 items; has 2"])
        try assertKeyword(
            #"{"uniqueItems": true}"#, accepts: ["[1, 2]", #"[{"a": 1}, {"a": 2}]"#],
            rejects: #"[{"a": 1, "b": 2}, 3, {"b": 2, "a": 1}]"#,
            with: ["/2: duplicates item 0; items must be unique"])
    }

    func testNumericBounds() throws {
        try assertKeyword(
            #"{"minimum": 1, "maximum": 10}"#, accepts: ["1", "10"], rejects: "0",
            with: ["/: must be at least 1; found 0"])
        XCTAssertEqual(try check(#"{"maximum": 10}"#, "10.5"), ["/: must be at most 10; found 10.5"])
        try assertKeyword(
            #"{"exclusiveMinimum": 0, "exclusiveMaximum": 1}"#, accepts: ["0.5"], rejects: "0",
            with: ["/: must be greater than 0; found 0"])
        XCTAssertEqual(try check(#"{"exclusiveMaximum": 1}"#, "1"), ["/: must be less than 1; found 1"])
        // Bounds only apply to numbers.
        XCTAssertEqual(try check(#"{"minimum": 1}"#, #""0""#), [])
    }

    func testStringLengthAndPattern() throws {
        try assertKeyword(
            #"{"minLength": 2, "maxLength": 3}"#, accepts: [#""ab""#, #""héé""#], rejects: #""a""#,
            with: ["/: must be at least 2 characters long"])
        XCTAssertEqual(try check(#"{"maxLength": 3}"#, #""abcd""#), ["/: must be at most 3 characters long"])
        // Unanchored, as the spec says.
        try assertKeyword(
            #"{"pattern": "[0-9]+"}"#, accepts: [#""kvm12""#], rejects: #""kvm""#,
            with: [#"/: must match the pattern "[0-9]+""#])
    }

    func testCombinators() throws {
        try assertKeyword(
            #"{"allOf": [{"type": "integer"}, {"minimum": 2}]}"#, accepts: ["2"], rejects: "1",
            with: ["/: must be at least 2; found 1"])
        try assertKeyword(
            #"{"anyOf": [{"type": "string"}, {"type": "integer"}]}"#, accepts: [#""a""#, "1"], rejects: "null",
            with: ["/: does not match any of the 2 allowed forms (anyOf)"])
        try assertKeyword(
            #"{"oneOf": [{"type": "integer"}, {"minimum": 5}]}"#, accepts: ["1", "5.5"], rejects: "6",
            with: ["/: matches forms 0 and 1 of oneOf; exactly one must match"])
        XCTAssertEqual(
            try check(#"{"oneOf": [{"type": "integer"}]}"#, "null"),
            ["/: does not match any of the 1 allowed forms (oneOf)"])
        try assertKeyword(
            #"{"not": {"type": "null"}}"#, accepts: ["1"], rejects: "null",
            with: [#"/: must not match the schema under "not""#])
    }

    func testIfThenElse() throws {
        let schema =
            #"{"if": {"properties": {"mode": {"const": "live"}}}, "then": {"required": ["bandwidth"]}, "else": {"maxProperties": 1}}"#
        try assertKeyword(
            schema, accepts: [#"{"mode": "live", "bandwidth": 1}"#, #"{"mode": "cold"}"#],
            rejects: #"{"mode": "live"}"#, with: [#"/: missing required property "bandwidth""#])
        XCTAssertEqual(try check(schema, #"{"mode": "cold", "x": 1}"#), ["/: must have at most 1 properties"])
    }

    func testRefsAndDefs() throws {
        let schema = #"""
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t", "$comment": "c",
             "$defs": {"size": {"type": "string", "pattern": "^[0-9]+GiB$"}},
             "definitions": {"host": {"type": "object", "properties": {"mem": {"$ref": "#/$defs/size"}}}},
             "type": "array", "items": {"$ref": "#/definitions/host"}}
            """#
        try assertKeyword(
            schema, accepts: [#"[{"mem": "8GiB"}]"#], rejects: #"[{"mem": "8G"}]"#,
            with: [#"/0/mem: must match the pattern "^[0-9]+GiB$""#])
    }

    func testRecursiveRefTerminates() throws {
        let tree = ##"{"type": "object", "properties": {"child": {"$ref": "#"}}, "additionalProperties": false}"##
        try assertKeyword(
            tree, accepts: [#"{"child": {"child": {}}}"#], rejects: #"{"child": {"x": 1}}"#,
            with: [#"/child/x: property "x" is not allowed"#])
        // A schema that refers to itself without consuming the instance must not loop forever.
        XCTAssertEqual(try check(##"{"allOf": [{"$ref": "#"}]}"##, "1"), ["/: schema nests too deeply (a $ref loop?)"])
    }

    func testBooleanSchemas() throws {
        XCTAssertEqual(try check("true", "1"), [])
        XCTAssertEqual(try check("false", "1"), ["/: no value is allowed here"])
        XCTAssertEqual(try check(#"{"properties": {"x": false}}"#, #"{"x": 1}"#), ["/x: no value is allowed here"])
    }

    func testUnsupportedKeywordIsRefused() {
        XCTAssertThrowsError(
            try JSONSchemaValidator(schema: JSONValue(json: #"{"properties": {"a": {"format": "email"}}}"#))
        ) { error in
            let e = error as? SchemaLoadError
            XCTAssertEqual(e?.path, "/properties/a/format")
            XCTAssertTrue(e?.message.hasPrefix(#"unsupported keyword "format""#) ?? false, "\(String(describing: e))")
        }
        // Even inside a definition nobody references.
        XCTAssertThrowsError(try JSONSchemaValidator(schema: JSONValue(json: #"{"$defs": {"u": {"contains": {}}}}"#))) {
            error in
            XCTAssertEqual((error as? SchemaLoadError)?.path, "/$defs/u/contains")
        }
    }

    func testMalformedSchemasAreRefused() {
        let bad = [
            #"{"type": "int"}"#, #"{"minItems": -1}"#, #"{"minLength": 1.5}"#, #"{"required": [1]}"#,
            #"{"pattern": "("}"#, ##"{"$ref": "#/$defs/missing"}"##, ##"{"$ref": "other.json#/x"}"##, #"{"anyOf": []}"#,
            #"{"enum": 1}"#, "3",
        ]
        for text in bad {
            // The JSON itself is fine; the schema loader must be what refuses it.
            guard let schema = try? JSONValue(json: text) else {
                XCTFail("bad JSON in test: \(text)")
                continue
            }
            XCTAssertThrowsError(try JSONSchemaValidator(schema: schema), text) { error in
                XCTAssertTrue(error is SchemaLoadError, "\(error)")
            }
        }
    }
}
