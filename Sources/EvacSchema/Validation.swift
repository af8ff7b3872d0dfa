import Foundation

extension JSONSchemaValidator {
    func check(_ s: Schema, _ v: JSONValue, _ path: String, _ depth: Int, _ errors: inout [SchemaError]) {
        func fail(_ message: String, at p: String? = nil) {
            errors.append(SchemaError(path: p ?? path, message: message))
        }
        guard depth < Self.maxDepth else { return fail("schema nests too deeply (a $ref loop?)") }
        if let always = s.always {
            if !always { fail("no value is allowed here") }
            return
        }
        if let types = s.types,
            !types.contains(where: { $0 == v.typeName || ($0 == "number" && v.typeName == "integer") })
        {
            fail("expected \(types.joined(separator: " or ")), found \(v.typeName)")
        }
        if let values = s.enumValues, !values.contains(v) {
            fail(
                "must be one of \(values.prefix(12).map(\.description).joined(separator: ", "))\(values.count > 12 ? ", ..." : ""); found \(v)"
            )
        }
        if let c = s.constValue, c != v { fail("must be \(c); found \(v)") }
        if let ref = s.ref, let target = refs[ref] { check(target, v, path, depth + 1, &errors) }

        switch v {
        case .object(let members): checkObject(s, members, path, depth, &errors)
        case .array(let items): checkArray(s, items, path, depth, &errors)
        case .number(let d):
            if let m = s.minimum, d < m { fail("must be at least \(JSONValue.format(m)); found \(v)") }
            if let m = s.maximum, d > m { fail("must be at most \(JSONValue.format(m)); found \(v)") }
            if let m = s.exclusiveMinimum, d <= m { fail("must be greater than \(JSONValue.format(m)); found \(v)") }
            if let m = s.exclusiveMaximum, d >= m { fail("must be less than \(JSONValue.format(m)); found \(v)") }
        case .string(let str):
            let n = str.unicodeScalars.count // JSON Schema counts code points
            if let m = s.minLength, n < m { fail("must be at least \(m) characters long") }
            if let m = s.maxLength, n > m { fail("must be at most \(m) characters long") }
            if let (p, re) = s.pattern, !Self.matches(re, str) { fail("must match the pattern \(JSONValue.quote(p))") }
        default: break
        }

        for sub in s.allOf { check(sub, v, path, depth + 1, &errors) }
        if let anyOf = s.anyOf, !anyOf.contains(where: { passes($0, v, path, depth) }) {
            fail("does not match any of the \(anyOf.count) allowed forms (anyOf)")
        }
        if let oneOf = s.oneOf {
            let matching = oneOf.indices.filter { passes(oneOf[$0], v, path, depth) }
            if matching.isEmpty { fail("does not match any of the \(oneOf.count) allowed forms (oneOf)") }
            if matching.count > 1 {
                fail(
                    "matches forms \(matching.map(String.init).joined(separator: " and ")) of oneOf; exactly one must match"
                )
            }
        }
        if let not = s.not, passes(not, v, path, depth) { fail("must not match the schema under \"not\"") }
        if let cond = s.ifSchema {
            if passes(cond, v, path, depth) {
                if let then = s.thenSchema { check(then, v, path, depth + 1, &errors) }
            } else if let otherwise = s.elseSchema {
                check(otherwise, v, path, depth + 1, &errors)
            }
        }
    }

    private func checkObject(
        _ s: Schema, _ members: [JSONValue.Member], _ path: String, _ depth: Int, _ errors: inout [SchemaError]
    ) {
        let keys = members.map(\.key)
        for name in s.required where !keys.contains(name) {
            errors.append(SchemaError(path: path, message: "missing required property \(JSONValue.quote(name))"))
        }
        if let m = s.minProperties, members.count < m {
            errors.append(SchemaError(path: path, message: "must have at least \(m) properties"))
        }
        if let m = s.maxProperties, members.count > m {
            errors.append(SchemaError(path: path, message: "must have at most \(m) properties"))
        }
        for member in members {
            let here = path + "/" + escape(member.key)
            var matched = false
            for (name, sub) in s.properties where name == member.key {
                matched = true
                check(sub, member.value, here, depth + 1, &errors)
            }
            for (_, re, sub) in s.patternProperties where Self.matches(re, member.key) {
                matched = true
                check(sub, member.value, here, depth + 1, &errors)
            }
            if !matched, let extra = s.additionalProperties {
                if extra.always == false {
                    errors.append(
                        SchemaError(path: here, message: "property \(JSONValue.quote(member.key)) is not allowed"))
                } else {
                    check(extra, member.value, here, depth + 1, &errors)
                }
            }
            if let names = s.propertyNames {
                var nameErrors: [SchemaError] = []
                check(names, .string(member.key), here, depth + 1, &nameErrors)
                errors += nameErrors.map {
                    SchemaError(path: $0.path, message: "property name \(JSONValue.quote(member.key)): \($0.message)")
                }
            }
        }
    }

    private func checkArray(
        _ s: Schema, _ items: [JSONValue], _ path: String, _ depth: Int, _ errors: inout [SchemaError]
    ) {
        if let m = s.minItems, items.count < m {
            errors.append(SchemaError(path: path, message: "must have at least \(m) items; has \(items.count)"))
        }
        if let m = s.maxItems, items.count > m {
            errors.append(SchemaError(path: path, message: "must have at most \(m) items; has \(items.count)"))
        }
        for (i, item) in items.enumerated() {
            // items applies only past prefixItems (2020-12).
            if let sub = i < s.prefixItems.count ? s.prefixItems[i] : s.items {
                check(sub, item, path + "/\(i)", depth + 1, &errors)
            }
        }
        if s.uniqueItems {
            var seen: [JSONValue: Int] = [:]
            for (i, item) in items.enumerated() {
                if let first = seen[item] {
                    errors.append(
                        SchemaError(path: path + "/\(i)", message: "duplicates item \(first); items must be unique"))
                } else {
                    seen[item] = i
                }
            }
        }
    }

    private func passes(_ s: Schema, _ v: JSONValue, _ path: String, _ depth: Int) -> Bool {
        var scratch: [SchemaError] = []
        check(s, v, path, depth + 1, &scratch)
        return scratch.isEmpty
    }

    /// Unanchored search, as JSON Schema's `pattern` specifies.
    static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}
