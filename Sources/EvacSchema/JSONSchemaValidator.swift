import Foundation

/// Validates JSON values against a subset of JSON Schema draft 2020-12.
///
/// Hand-written because no JSON Schema validator exists among the Swift packages mirrored on
/// this machine, and the subset evac's plan schema needs is small: type, enum, const,
/// properties, required, additionalProperties, patternProperties, propertyNames,
/// min/maxProperties, items, prefixItems, min/maxItems, uniqueItems, minimum, maximum,
/// exclusiveMinimum, exclusiveMaximum, min/maxLength, pattern, allOf, anyOf, oneOf, not,
/// if/then/else, local $ref ("#/$defs/..", "#/definitions/..", any "#/.." pointer) and $defs.
/// Annotations ($schema, $id, $comment, title, description, default, examples) are ignored.
/// Any other keyword (format, contains, dependentRequired, $dynamicRef, ...) makes loading
/// fail, so a schema never passes silently because part of it was not understood.
///
/// Deviations: `pattern` uses NSRegularExpression (ICU) syntax rather than ECMA-262, and all
/// numbers are Doubles.
public struct JSONSchemaValidator: Sendable {
    /// Bounds `$ref` recursion, which a self-referencing schema could otherwise make endless.
    static let maxDepth = 200

    let root: Schema
    let refs: [String: Schema]

    public init(schema: JSONValue) throws(SchemaLoadError) {
        var loader = SchemaLoader(root: schema)
        root = try loader.load()
        refs = loader.refs
    }

    /// Loads a schema from JSON text.
    public init(schemaData: Data) throws {
        try self.init(schema: JSONValue(data: schemaData))
    }

    /// All violations, each at the JSON pointer of the offending instance value; empty if valid.
    public func validate(_ instance: JSONValue) -> [SchemaError] {
        var errors: [SchemaError] = []
        check(root, instance, "", 0, &errors)
        return errors
    }
}

/// One violation: where in the instance (a JSON pointer, "" for the whole value) and what.
public struct SchemaError: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path.isEmpty ? "/" : path): \(message)" }
}
