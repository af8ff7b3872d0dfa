extension PlanReader {
    static let hookKeys = ["name", "run", "timeout", "on-failure", "guests", "hosts", "rerun"]

    /// `hooks: { before-migration: [...], after-migration: [...], before-drain: [...], after-drain: [...] }`.
    static func readHooks(_ node: Node, _ r: inout NodeReader) -> (HookSet, [String: Mark]) {
        var set = HookSet()
        var hostRefs: [String: Mark] = [:]
        let points = HookPoint.allCases.filter { $0 != .maintenance }
        guard let m = r.mapping(node, context: "hooks", known: points.map(\.rawValue)) else { return (set, hostRefs) }
        for point in points {
            guard let v = m[point.rawValue]?.value else { continue }
            set[point] = readHookList(v, point: point, context: "hooks.\(point.rawValue)", &r, hostRefs: &hostRefs)
        }
        return (set, hostRefs)
    }

    /// The hooks of one point, in order, names unique.
    static func readHookList(
        _ v: Node, point: HookPoint, context listContext: String, _ r: inout NodeReader, hostRefs: inout [String: Mark]
    ) -> [HookSpec] {
        guard let items = r.list(v, context: listContext) else { return [] }
        var out: [HookSpec] = []
        var names: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            let context = "hook \(i + 1) of \(listContext)"
            // Checked before the hook's own problems, so that a broken first entry does not hide a duplicate.
            let name =
                item.pairs?.first { $0.key.scalar?.value == "name" }?.value.scalar?.value
                ?? "\(point.rawValue)-\(i + 1)"
            if let first = names[name] {
                r.sink.error(
                    item.mark, "duplicate hook '\(name)' in \(listContext)",
                    help:
                        "it was already defined at line \(first.line); the journal keys hooks by name, so names must be unique"
                )
            }
            let duplicate = names[name] != nil
            names[name] = names[name] ?? item.mark
            guard let h = readHook(item, point: point, index: i, context: context, &r, hostRefs: &hostRefs), !duplicate
            else { continue }
            out.append(h)
        }
        return out
    }

    static func readHook(
        _ item: Node, point: HookPoint, index: Int, context: String, _ r: inout NodeReader,
        hostRefs: inout [String: Mark]
    ) -> HookSpec? {
        guard let m = r.mapping(item, context: context, known: hookKeys) else { return nil }
        var hook = HookSpec(name: "\(point.rawValue)-\(index + 1)", run: [])
        if let v = m["name"]?.value, let n = r.string(v, context: "hook name") { hook.name = n }
        let context = "hook '\(hook.name)'"
        var ok = true
        if let v = r.require(m, "run", in: item, context: context, example: "[/usr/local/bin/lb-ctl, drain]") {
            if let argv = readArgv(v, context: context, &r) { hook.run = argv } else { ok = false }
        } else {
            ok = false
        }
        if let v = m["timeout"]?.value {
            if let ms = r.duration(
                v, context: "\(context) timeout", HookSpec.timeoutBoundsMs,
                why: "the hook's process group is killed when it has not exited by then")
            {
                hook.timeoutMs = ms
            } else {
                ok = false
            }
        }
        if let v = m["on-failure"]?.value {
            if let p = r.choice(v, HookFailurePolicy.self, context: "hook on-failure policy") {
                hook.onFailure = p
            } else {
                ok = false
            }
        }
        if let v = m["rerun"]?.value {
            if let b = r.bool(v, context: "\(context) rerun") { hook.rerun = b } else { ok = false }
        }
        let scopeKey = point.isPerGuest ? "guests" : "hosts"
        let wrongKey = point.isPerGuest ? "hosts" : "guests"
        if let v = m[wrongKey] {
            r.sink.error(
                v.key.mark, span: wrongKey.count, "\(context) at \(point.rawValue) cannot select by \(wrongKey)",
                help: point.isPerGuest
                    ? "\(point.rawValue) hooks run per guest: select with `guests: [\"web-*\"]`"
                    : "\(point.rawValue) hooks run per source host: select with `hosts: [kvm-1]`")
            ok = false
        }
        if let v = m[scopeKey]?.value {
            if point.isPerGuest {
                if let globs = r.globs(v, context: "\(context) guests", allowEmpty: false) {
                    hook.only = globs.map(\.value.pattern)
                } else {
                    ok = false
                }
            } else if let items = r.list(v, context: "\(context) hosts", allowEmpty: false) {
                var names: [String] = []
                for item in items {
                    guard let n = r.name(item, context: "a host of \(context)") else {
                        ok = false
                        continue
                    }
                    names.append(n.value)
                    hostRefs[n.value] = hostRefs[n.value] ?? n.mark
                }
                hook.only = names
            } else {
                ok = false
            }
        }
        return ok ? hook : nil
    }

    /// An argv list: one program and its arguments, each a non-empty string. A shell's `-c`
    /// string is refused: evac never hands text to a shell, and a plan must not make it.
    static func readArgv(_ node: Node, context: String, _ r: inout NodeReader) -> [String]? {
        guard case .sequence(let items, let mark) = node else {
            if let s = node.scalar {
                let words = s.value.split(separator: " ").map { "\"\($0)\"" }.joined(separator: ", ")
                r.sink.error(
                    s.mark, span: max(1, s.value.count), "\(context): run must be a list (argv), found a string",
                    help: "evac runs no shell; write the program and each argument as a list element: [\(words)]")
            } else {
                r.typeError(node, expected: "a list of strings (argv)", context: "\(context) run")
            }
            return nil
        }
        if items.isEmpty {
            r.sink.error(
                mark, "\(context): run is empty", help: "name the program to run, e.g. [/usr/local/bin/lb-ctl, drain]")
            return nil
        }
        if items.count > HookSpec.maxArguments {
            r.sink.error(
                mark, "\(context): run has \(items.count) elements",
                help: "at most \(HookSpec.maxArguments); pass data in a file")
            return nil
        }
        var argv: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.scalar else {
                r.typeError(item, expected: "a string", context: "\(context) run element \(i + 1)")
                return nil
            }
            if s.value.isEmpty && i == 0 {
                r.sink.error(
                    s.mark, "\(context): the program is empty", help: "give a path such as /usr/local/bin/lb-ctl")
                return nil
            }
            if s.value.utf8.contains(0) {
                r.sink.error(
                    s.mark, "\(context): run element \(i + 1) holds a NUL byte",
                    help: "remove it; arguments are C strings")
                return nil
            }
            argv.append(s.value)
        }
        if let program = HookSpec.shellCommandString(argv) {
            r.sink.error(
                items[0].mark, span: argv[0].count, "\(context) hands a command string to \(program) -c",
                help:
                    "evac never runs text through a shell; name the program and its arguments directly, or put the commands in a script and run that script"
            )
            return nil
        }
        if argv[0].contains("/") && !argv[0].hasPrefix("/") && !argv[0].hasPrefix("{plan-dir}/") {
            r.sink.error(
                items[0].mark, span: argv[0].count, "\(context): the program '\(argv[0])' is a relative path",
                help:
                    "a relative path depends on the directory evac runs in; give an absolute path, {plan-dir}/… (the plan file's directory), or a bare name found in PATH"
            )
            return nil
        }
        return argv
    }
}
