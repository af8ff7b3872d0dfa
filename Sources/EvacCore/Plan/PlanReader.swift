/// Reads a plan (language version 1) from its document tree. Reports every problem at once;
/// returns a spec only when there were no errors. schemas/plan.schema.json describes the same
/// language and a test keeps the two in step.
public enum PlanReader {
    /// The keys a plan may have at its top level; any other is reported as unknown.
    public static let topKeys = [
        "version", "name", "description", "hosts", "sources", "targets", "select",
        "constraints", "placement", "parallelism", "migration", "on-failure", "connection", "hooks", "rolling",
        "window",
    ]

    /// Reads the plan in `root`, read from `file` (named in the diagnostics). Returns the spec
    /// (nil when any diagnostic is an error) and every diagnostic, sorted.
    public static func read(_ root: Node, file: String) -> (spec: PlanSpec?, diagnostics: [Diagnostic]) {
        var r = NodeReader(file: file)
        let spec = readPlan(root, &r)
        checkReferences(spec, &r)
        return (r.sink.hasErrors ? nil : spec, r.sink.diagnostics.sorted())
    }

    // MARK: top level

    static func readPlan(_ root: Node, _ r: inout NodeReader) -> PlanSpec {
        var spec = PlanSpec(name: "", hosts: [], sources: [], targetPools: [])
        if case .mapping(let pairs, let mark) = root, pairs.isEmpty {
            r.sink.error(
                mark, "the plan is empty",
                help:
                    "a plan needs at least version, name, hosts, sources and targets (see plans/maintenance-drain.yaml)"
            )
            return spec
        }
        guard let top = r.mapping(root, context: "the plan", known: topKeys) else { return spec }

        if let v = r.require(top, "version", in: root, context: "the plan", example: "1") {
            if let n = r.int(v, context: "version"), n != 1 {
                r.sink.error(v.mark, "unsupported plan version \(n)", help: "this evac reads version 1")
            }
        }
        if let v = r.require(top, "name", in: root, context: "the plan", example: "rack12-kernel-upgrade"),
            let n = r.string(v, context: "name")
        {
            spec.name = n
        }
        if let v = top["description"]?.value { _ = r.string(v, context: "description", allowEmpty: true) }
        if let v = r.require(
            top, "hosts", in: root, context: "the plan",
            example: "{ kvm-12a: { uri: \"qemu+ssh://root@kvm-12a/system\" } }")
        {
            spec.hosts = readHosts(v, &r)
        }
        if let v = r.require(top, "sources", in: root, context: "the plan", example: "[kvm-12a]") {
            spec.sources = readHostList(v, context: "sources", &r)
        }
        if let v = r.require(
            top, "targets", in: root, context: "the plan", example: "[{ pool: rack13, hosts: [kvm-13a] }]")
        {
            spec.targetPools = readPools(v, &r)
        }
        if let v = top["select"]?.value { spec.select = readSelect(v, &r) }
        if let v = top["constraints"]?.value { spec.constraints = readConstraints(v, &r) }
        if let v = top["placement"]?.value { spec.placement = readPlacement(v, &r) }
        if let v = top["parallelism"]?.value { spec.parallelism = readParallelism(v, &r) }
        if let v = top["migration"]?.value {
            (spec.migration, spec.migrationGroups) = readMigration(v, &r)
            spec.migrationLadderMark = v.pairs?.first { $0.key.scalar?.value == "ladder" }?.key.mark
        }
        if let v = top["on-failure"]?.value, let f = r.choice(v, OnFailure.self, context: "on-failure policy") {
            spec.onFailure = f
        }
        if let v = top["connection"]?.value { spec.connection = readConnection(v, &r) }
        if let v = top["window"]?.value { spec.window = readWindow(v, &r) }
        var hosts: [String: Mark] = [:]
        if let v = top["hooks"]?.value {
            let (hooks, refs) = readHooks(v, &r)
            spec.hooks = hooks
            hosts = refs
        }
        if let v = top["rolling"]?.value {
            spec.rolling = readRolling(v, &r, hostRefs: &hosts)
            if let m = spec.rolling?.maintenance { spec.hooks.maintenance = m }
        }
        do {
            let sources = spec.sourceNames
            for (host, mark) in hosts.sorted(by: { $0.value < $1.value }) where !sources.contains(host) {
                let help =
                    Spelling.closest(to: host, in: sources).map { "did you mean '\($0)'?" }
                    ?? "drain hooks run for source hosts; list one of: \(sources.joined(separator: ", "))"
                r.sink.error(mark, span: host.count, "hook host '\(host)' is not a source of this plan", help: help)
            }
        }
        return spec
    }

    static func readHosts(_ node: Node, _ r: inout NodeReader) -> [HostSpec] {
        guard let entries = r.namedEntries(node, context: "hosts") else { return [] }
        if entries.isEmpty {
            r.sink.error(node.mark, "hosts is empty", help: "name every host the plan touches with its libvirt URI")
        }
        var out: [HostSpec] = []
        r.declaredHosts = Set(entries.map(\.0.value))
        for (key, value) in entries {
            // Shorthand: `kvm-12a: qemu+ssh://root@kvm-12a/system`.
            if value.scalar != nil {
                if let uri = r.string(value, context: "the URI of host '\(key.value)'") {
                    checkURI(uri, at: value.mark, host: key.value, &r)
                    out.append(HostSpec(name: key.value, uri: uri, mark: key.mark))
                }
                continue
            }
            guard
                let m = r.mapping(
                    value, context: "host '\(key.value)'", known: ["uri", "cpu-pool", "allow-uri-risks", "migrate-uri"])
            else { continue }
            guard
                let uriNode = r.require(
                    m, "uri", in: value, context: "host '\(key.value)'",
                    example: "\"qemu+ssh://root@\(key.value)/system\""),
                let uri = r.string(uriNode, context: "the URI of host '\(key.value)'")
            else { continue }
            var risks: Set<URIPolicy.Risk> = []
            if let v = m["allow-uri-risks"]?.value,
                let items = r.list(v, context: "allow-uri-risks of host '\(key.value)'")
            {
                for item in items {
                    if let risk = r.choice(item, URIPolicy.Risk.self, context: "URI risk") { risks.insert(risk) }
                }
            }
            checkURI(uri, at: uriNode.mark, host: key.value, allowed: risks, &r)
            var pool: String?
            if let p = m["cpu-pool"]?.value { pool = r.string(p, context: "cpu-pool of host '\(key.value)'") }
            var migrateURI: String?
            if let v = m["migrate-uri"]?.value, let text = r.string(v, context: "migrate-uri of host '\(key.value)'") {
                let problems = MigrateURIPolicy.problems(text)
                for p in problems {
                    r.sink.error(v.mark, span: text.count, "host '\(key.value)': \(p.message)", help: p.help)
                }
                if problems.isEmpty { migrateURI = text }
            }
            out.append(
                HostSpec(
                    name: key.value, uri: uri, cpuPool: pool, allowURIRisks: risks, migrateURI: migrateURI,
                    mark: key.mark))
        }
        return out
    }

    /// The URI policy (credentials, programs libvirt would run, text for a remote shell, peers
    /// not verified): each problem is an error at the URI, see `URIPolicy`.
    static func checkURI(
        _ uri: String, at mark: Mark, host: String, allowed: Set<URIPolicy.Risk> = [], _ r: inout NodeReader
    ) {
        for p in URIPolicy.check(uri, allowed: allowed) {
            r.sink.error(mark, span: uri.count, "host '\(host)': \(p.message)", help: p.help)
        }
    }

    static func readHostList(_ node: Node, context: String, _ r: inout NodeReader) -> [Located<String>] {
        guard let items = r.list(node, context: context, allowEmpty: false) else { return [] }
        var out: [Located<String>] = []
        var seen: [String: Mark] = [:]
        for item in items {
            guard let n = r.name(item, context: "a host in \(context)") else { continue }
            if let first = seen[n.value] {
                r.sink.error(
                    item.mark, span: n.value.count, "host '\(n.value)' is listed twice in \(context)",
                    help: "it was already listed at line \(first.line); remove one")
                continue
            }
            seen[n.value] = item.mark
            out.append(n)
        }
        return out
    }

    static func readPools(_ node: Node, _ r: inout NodeReader) -> [TargetPool] {
        guard let items = r.list(node, context: "targets", allowEmpty: false) else { return [] }
        var out: [TargetPool] = []
        var names: [String: Mark] = [:]
        let explicit = Set(items.compactMap { $0.pairs?.first { $0.key.scalar?.value == "pool" }?.value.scalar?.value })
        for (i, item) in items.enumerated() {
            guard let m = r.mapping(item, context: "target pool \(i + 1)", known: ["pool", "hosts"]) else { continue }
            var name = "pool-\(i + 1)"
            var n = 1
            while explicit.contains(name) {
                n += 1
                name = "pool-\(i + 1)-\(n)"
            }
            if let p = m["pool"]?.value, let n = r.string(p, context: "pool name") {
                if let first = names[n] {
                    r.sink.error(
                        p.mark, span: n.count, "duplicate target pool '\(n)'",
                        help: "it was already defined at line \(first.line); pool names must be unique")
                }
                names[n] = p.mark
                name = n
            }
            guard
                let hostsNode = r.require(
                    m, "hosts", in: item, context: "target pool '\(name)'", example: "[kvm-13a, kvm-13b]")
            else { continue }
            if let seq = hostsNode.items, seq.isEmpty {
                r.sink.error(
                    hostsNode.mark, "target pool '\(name)' is empty", help: "list the hosts that may receive guests")
                continue
            }
            out.append(
                TargetPool(
                    name: name, hosts: readHostList(hostsNode, context: "target pool '\(name)'", &r), mark: item.mark))
        }
        return out
    }

    static func readSelect(_ node: Node, _ r: inout NodeReader) -> Selection {
        var s = Selection()
        guard let m = r.mapping(node, context: "select", known: ["include", "exclude", "stopped", "transient"]) else {
            return s
        }
        if let v = m["include"]?.value { s.include = r.globs(v, context: "select.include") ?? [] }
        if let v = m["exclude"]?.value { s.exclude = r.globs(v, context: "select.exclude") ?? [] }
        if let v = m["stopped"]?.value,
            let p = r.choice(v, Selection.StoppedPolicy.self, context: "stopped-guest policy")
        {
            s.stopped = p
        }
        if let v = m["transient"]?.value,
            let p = r.choice(v, Selection.TransientPolicy.self, context: "transient-guest policy")
        {
            s.transient = p
        }
        return s
    }

    /// `constraints.allow`: a list of evac policies to waive; an unknown name is an error with
    /// the closest known one, a repeated one a warning.
    static func readAllow(_ node: Node, _ r: inout NodeReader) -> [PolicyWaiver] {
        guard let items = r.list(node, context: "allow") else { return [] }
        var out: [PolicyWaiver] = []
        for item in items {
            guard let p = r.choice(item, PolicyWaiver.self, context: "policy to allow") else { continue }
            if out.contains(p) {
                r.sink.warning(
                    item.mark, span: p.rawValue.count, "'\(p.rawValue)' is allowed twice", help: "remove one")
            } else {
                out.append(p)
            }
        }
        return out.sorted { $0.rawValue < $1.rawValue }
    }

    static func readConstraints(_ node: Node, _ r: inout NodeReader) -> Constraints {
        var c = Constraints()
        guard
            let m = r.mapping(
                node, context: "constraints",
                known: [
                    "cpu", "bridges", "bridge-map", "memory-reserve", "max-vcpu-ratio", "anti-affinity", "pin",
                    "local-storage", "allow",
                ])
        else { return c }
        if let v = m["allow"]?.value { c.allow = readAllow(v, &r) }
        if let v = m["cpu"]?.value, let p = r.choice(v, Constraints.CPUPolicy.self, context: "cpu policy") { c.cpu = p }
        if let v = m["bridges"]?.value, let p = r.choice(v, Constraints.BridgePolicy.self, context: "bridges policy") {
            c.bridges = p
        }
        if let v = m["local-storage"]?.value,
            let p = r.choice(v, Constraints.LocalStoragePolicy.self, context: "local-storage policy")
        {
            c.localStorage = p
        }
        if let v = m["bridge-map"]?.value, let entries = r.namedEntries(v, context: "bridge-map") {
            for (k, val) in entries {
                if let to = r.string(val, context: "bridge-map entry '\(k.value)'") { c.bridgeMap[k.value] = to }
            }
        }
        if let v = m["memory-reserve"]?.value, let b = r.unit(v, context: "memory-reserve", Units.size) {
            c.memoryReserveBytes = b
        }
        if let v = m["max-vcpu-ratio"]?.value { c.maxVCPURatio = r.number(v, context: "max-vcpu-ratio", above: 0) }
        if let v = m["anti-affinity"]?.value, let items = r.list(v, context: "anti-affinity") {
            var names: [String: Mark] = [:]
            // An unnamed group is called anti-affinity-N; a group may be *named* that too, so the
            // default skips names given explicitly (group names key the limits in the DAG).
            let explicit = Set(
                items.compactMap { $0.pairs?.first { $0.key.scalar?.value == "name" }?.value.scalar?.value })
            for (i, item) in items.enumerated() {
                guard
                    let g = r.mapping(
                        item, context: "anti-affinity group \(i + 1)", known: ["name", "guests", "max-in-flight"])
                else { continue }
                var name = "anti-affinity-\(i + 1)"
                var n = 1
                while explicit.contains(name) {
                    n += 1
                    name = "anti-affinity-\(i + 1)-\(n)"
                }
                if let n = g["name"]?.value, let s = r.string(n, context: "anti-affinity group name") {
                    if let first = names[s] {
                        r.sink.error(
                            n.mark, span: s.count, "duplicate anti-affinity group '\(s)'",
                            help: "it was already defined at line \(first.line)")
                    }
                    names[s] = n.mark
                    name = s
                }
                guard
                    let gn = r.require(
                        g, "guests", in: item, context: "anti-affinity group '\(name)'", example: "[\"db-*\"]")
                else { continue }
                let globs = r.globs(gn, context: "anti-affinity group '\(name)'", allowEmpty: false) ?? []
                var budget = 1
                if let b = g["max-in-flight"]?.value, let n = r.int(b, context: "max-in-flight", min: 1) { budget = n }
                c.antiAffinity.append(
                    AntiAffinityGroup(name: name, guests: globs, maxInFlight: budget, mark: item.mark))
            }
        }
        if let v = m["pin"]?.value, let entries = r.namedEntries(v, context: "pin") {
            for (k, val) in entries {
                let g = Glob(k.value)
                if let err = g.syntaxError {
                    r.sink.error(k.mark, err, help: "close the class with ']'")
                    continue
                }
                if let h = r.name(val, context: "the host guest '\(k.value)' is pinned to") {
                    c.pins.append(PinRule(guest: Located(g, at: k.mark), host: h))
                }
            }
        }
        return c
    }

    static func readPlacement(_ node: Node, _ r: inout NodeReader) -> PlacementPolicy {
        var p = PlacementPolicy()
        guard let m = r.mapping(node, context: "placement", known: ["choose", "order", "after", "priority"]) else {
            return p
        }
        if let v = m["choose"]?.value, let c = r.choice(v, PlacementPolicy.Choose.self, context: "placement choice") {
            p.choose = c
        }
        if let v = m["order"]?.value, let o = r.choice(v, PlacementPolicy.Order.self, context: "placement order") {
            p.order = o
        }
        if let v = m["after"]?.value, let items = r.list(v, context: "placement.after") {
            for (i, item) in items.enumerated() {
                guard let rule = r.mapping(item, context: "after rule \(i + 1)", known: ["move", "after"]) else {
                    continue
                }
                guard let mv = r.require(rule, "move", in: item, context: "after rule \(i + 1)", example: "[\"db-*\"]"),
                    let af = r.require(rule, "after", in: item, context: "after rule \(i + 1)", example: "[\"app-*\"]")
                else { continue }
                let move = r.globs(mv, context: "after rule \(i + 1) move", allowEmpty: false) ?? []
                let after = r.globs(af, context: "after rule \(i + 1) after", allowEmpty: false) ?? []
                p.after.append(AfterRule(move: move, after: after, mark: item.mark))
            }
        }
        if let v = m["priority"]?.value { p.priority = readPriority(v, &r) }
        return p
    }

    /// `placement.priority`: a list of `{guests: [...], priority: N}`; the first rule that
    /// matches a guest gives its priority.
    static func readPriority(_ node: Node, _ r: inout NodeReader) -> [PriorityRule] {
        guard let items = r.list(node, context: "placement.priority") else { return [] }
        var out: [PriorityRule] = []
        for (i, item) in items.enumerated() {
            let context = "priority rule \(i + 1)"
            guard let rule = r.mapping(item, context: context, known: ["guests", "priority"]),
                let g = r.require(rule, "guests", in: item, context: context, example: "[\"db-*\"]"),
                let n = r.require(rule, "priority", in: item, context: context, example: "10")
            else { continue }
            let guests = r.globs(g, context: "\(context) guests", allowEmpty: false) ?? []
            guard
                let priority = r.int(
                    n, context: "\(context) priority", min: PriorityRule.range.lowerBound,
                    max: PriorityRule.range.upperBound)
            else { continue }
            out.append(PriorityRule(guests: guests, priority: priority, mark: item.mark))
        }
        return out
    }

    static func readParallelism(_ node: Node, _ r: inout NodeReader) -> Parallelism {
        var p = Parallelism()
        guard let m = r.mapping(node, context: "parallelism", known: ["total", "per-source", "per-target"]) else {
            return p
        }
        if let v = m["total"]?.value, let n = r.int(v, context: "parallelism.total", min: 1, max: 1024) { p.total = n }
        if let v = m["per-source"]?.value, let n = r.int(v, context: "parallelism.per-source", min: 1, max: 1024) {
            p.perSource = n
        }
        if let v = m["per-target"]?.value, let n = r.int(v, context: "parallelism.per-target", min: 1, max: 1024) {
            p.perTarget = n
        }
        for (key, value) in [("per-source", p.perSource), ("per-target", p.perTarget)] where value > p.total {
            if let n = m[key]?.value {
                r.sink.warning(
                    n.mark, "parallelism.\(key) (\(value)) is larger than total (\(p.total)); total wins",
                    help: "lower \(key) or raise total")
            }
        }
        return p
    }

    static let migrationKeys = [
        "mode", "max-downtime", "bandwidth", "timeout", "progress-timeout", "auto-converge",
        "post-copy", "compression", "persist", "undefine-source", "parallel-connections", "retry", "tls", "ladder",
    ]

    /// `migration:`: the plan's options, and the groups that override them for some guests.
    static func readMigration(_ node: Node, _ r: inout NodeReader) -> (MigrationOptions, [MigrationGroupSpec]) {
        guard let m = r.mapping(node, context: "migration", known: migrationKeys + ["groups"]) else {
            return (MigrationOptions(), [])
        }
        let o = readOptions(m, at: node, base: MigrationOptions(), &r)
        let groups = m["groups"].map { readMigrationGroups($0.value, base: o, &r) } ?? []
        return (o, groups)
    }

    /// The options keys of `m` over `base`: a key written replaces `base`'s value, inside a
    /// mapping (auto-converge, retry, ladder) key by key. Problems are reported at the keys of
    /// `m`; those `base` has already are not reported again.
    static func readOptions(
        _ m: [String: Node.Pair], at node: Node, base: MigrationOptions, _ r: inout NodeReader
    ) -> MigrationOptions {
        var o = base
        if let v = m["mode"]?.value, let x = r.choice(v, MigrationOptions.Mode.self, context: "migration mode") {
            o.mode = x
        }
        if let v = m["max-downtime"]?.value,
            let ms = r.duration(
                v, context: "max-downtime", MigrationOptions.Bounds.maxDowntimeMs,
                why: "libvirt's default is 300ms; QEMU accepts at most 2000s")
        {
            o.maxDowntimeMs = ms
        }
        if let v = m["bandwidth"]?.value, let b = r.unit(v, context: "bandwidth", Units.bandwidth) {
            if b < 1_048_576 {
                r.sink.error(
                    v.mark, span: v.scalar?.value.count ?? 1, "bandwidth below 1MiB/s",
                    help: "libvirt limits bandwidth in whole MiB/s; write at least 1MiB/s")
            } else if b > MigrationOptions.Bounds.bandwidthBytesPerSec.upperBound {
                r.sink.error(
                    v.mark, span: v.scalar?.value.count ?? 1, "bandwidth above 1TiB/s",
                    help: "omit bandwidth for no limit")
            } else {
                o.bandwidthBytesPerSec = b
            }
        }
        if let v = m["timeout"]?.value { o.timeout = readTimeout(v, &r) }
        if let v = m["progress-timeout"]?.value,
            let ms = r.duration(
                v, context: "progress-timeout", MigrationOptions.Bounds.progressTimeoutMs,
                why: "omit it to never abort for lack of progress")
        {
            o.progressTimeoutMs = ms
        }
        if let v = m["auto-converge"]?.value {
            if let s = v.scalar, !s.quoted, s.value == "true" || s.value == "false" {
                o.autoConverge = s.value == "true" ? .init(initial: 20, increment: 10) : nil
            } else if let ac = r.mapping(v, context: "auto-converge", known: ["initial", "increment"]) {
                var x = o.autoConverge ?? MigrationOptions.AutoConverge(initial: 20, increment: 10)
                let percent = MigrationOptions.Bounds.autoConvergePercent // QEMU's range for both
                if let i = ac["initial"]?.value,
                    let n = r.int(i, context: "auto-converge.initial", min: percent.lowerBound, max: percent.upperBound)
                {
                    x.initial = n
                }
                if let i = ac["increment"]?.value,
                    let n = r.int(
                        i, context: "auto-converge.increment", min: percent.lowerBound, max: percent.upperBound)
                {
                    x.increment = n
                }
                o.autoConverge = x
            }
        }
        if let v = m["post-copy"]?.value,
            let x = r.choice(v, MigrationOptions.PostCopy.self, context: "post-copy policy")
        {
            o.postCopy = x
        }
        if let v = m["compression"]?.value { readCompression(v, into: &o, &r) }
        if let v = m["tls"]?.value, let x = r.bool(v, context: "tls") { o.tls = x ? true : nil }
        if let v = m["persist"]?.value, let x = r.bool(v, context: "persist") { o.persist = x }
        if let v = m["undefine-source"]?.value, let x = r.bool(v, context: "undefine-source") { o.undefineSource = x }
        if let v = m["parallel-connections"]?.value, let n = r.int(v, context: "parallel-connections", min: 1, max: 64)
        {
            o.parallelConnections = n
        }
        if let v = m["retry"]?.value { o.retry = readRetry(v, base: o.retry, &r) }
        if let v = m["ladder"]?.value { o.ladder = readLadder(v, base: o.ladder, &r) }
        // At the key written here: a group may set the mode and inherit the rest.
        if o.mode == .offline && !o.persist, let v = (m["persist"] ?? m["mode"])?.value {
            r.sink.error(
                v.mark, "offline migration needs persist: true",
                help: "an offline migration only moves the definition; set persist: true")
        }
        if o.postCopy != .never && o.mode != .live, let v = (m["post-copy"] ?? m["mode"])?.value {
            r.sink.error(v.mark, "post-copy needs mode: live", help: "set post-copy: never, or mode: live")
        }
        let inherited = Set(base.conflicts)
        for c in o.conflicts where !inherited.contains(c) {
            // At the key the operator wrote (persist may be a default: then at undefine-source).
            let at =
                pair(c.key, in: m) ?? (c.key == "persist" ? m["undefine-source"] : nil) ?? m["parallel-connections"]
            r.sink.error(at?.key.mark ?? node.mark, span: at?.key.scalar?.value.count ?? 1, c.message, help: c.help)
        }
        return o
    }

    /// `compression: true | false | xbzrle | mt | zlib | zstd` (a method implies true).
    static func readCompression(_ node: Node, into o: inout MigrationOptions, _ r: inout NodeReader) {
        if let s = node.scalar, !s.quoted, ["true", "false", "True", "False", "TRUE", "FALSE"].contains(s.value) {
            if let x = r.bool(node, context: "compression") { o.compression = x }
            return
        }
        let methods = MigrationOptions.CompressionMethod.allCases.map(\.rawValue)
        if let s = node.scalar, !s.quoted, ["yes", "no", "on", "off"].contains(s.value.lowercased()) {
            _ = r.bool(node, context: "compression") // the YAML 1.1 boolean diagnostic
            return
        }
        guard node.scalar != nil else {
            r.typeError(
                node, expected: "true, false or a method (\(methods.joined(separator: ", ")))", context: "compression")
            return
        }
        if let m = r.choice(node, MigrationOptions.CompressionMethod.self, context: "compression method") {
            o.compression = true
            o.compressionMethod = m
        }
    }

    /// `retry: { attempts: 3, backoff: 10s }`: more attempts for transient failures.
    static func readRetry(_ node: Node, base: RetryPolicy? = nil, _ r: inout NodeReader) -> RetryPolicy? {
        guard let m = r.mapping(node, context: "migration.retry", known: ["attempts", "backoff"]) else { return base }
        var p = base ?? RetryPolicy.default
        if let v = m["attempts"]?.value,
            let n = r.int(
                v, context: "migration.retry.attempts",
                min: MigrationOptions.Bounds.retryAttempts.lowerBound,
                max: MigrationOptions.Bounds.retryAttempts.upperBound)
        {
            p.attempts = n
        }
        if let v = m["backoff"]?.value, let ms = r.unit(v, context: "migration.retry.backoff", Units.duration) {
            if !MigrationOptions.Bounds.retryBackoffMs.contains(ms) {
                r.sink.error(
                    v.mark, span: v.scalar?.value.count ?? 1, "migration.retry.backoff must be at most 1h",
                    help: "the wait doubles before every further attempt; start lower, e.g. 10s")
            } else {
                p.backoffMs = ms
            }
        }
        return p
    }

    /// `connection: { connect-timeout: 10s, call-timeout: 20s }`: how long a host may take.
    static func readConnection(_ node: Node, _ r: inout NodeReader) -> ConnectionSettings? {
        guard let m = r.mapping(node, context: "connection", known: ["connect-timeout", "call-timeout"]) else {
            return nil
        }
        var c = ConnectionSettings()
        for (key, defaultMs) in [
            ("connect-timeout", ConnectionSettings.defaultConnectTimeoutMs),
            ("call-timeout", ConnectionSettings.defaultCallTimeoutMs),
        ] {
            guard let v = m[key]?.value, let ms = r.unit(v, context: "connection.\(key)", Units.duration) else {
                continue
            }
            guard ConnectionSettings.boundsMs.contains(ms) else {
                r.sink.error(
                    v.mark, span: v.scalar?.value.count ?? 1, "connection.\(key) must be between 100ms and 1h",
                    help:
                        "the default is \(defaultMs / 1000)s; a host that has not answered by then is reported unreachable"
                )
                continue
            }
            if key == "connect-timeout" { c.connectTimeoutMs = ms } else { c.callTimeoutMs = ms }
        }
        return c
    }

    /// `window: { duration: 2h }` or `window: { ends: 2026-12-01T18:00:00Z }`, with `late: skip|start`.
    static func readWindow(_ node: Node, _ r: inout NodeReader) -> MaintenanceWindow? {
        guard let m = r.mapping(node, context: "window", known: ["duration", "ends", "late"]) else { return nil }
        var w = MaintenanceWindow()
        if let v = m["late"]?.value, let l = r.choice(v, MaintenanceWindow.Late.self, context: "window.late") {
            w.late = l
        }
        switch (m["duration"]?.value, m["ends"]?.value) {
        case (let d?, nil):
            guard
                let ms = r.duration(
                    d, context: "window.duration", MaintenanceWindow.durationBoundsMs,
                    why: "the window is the time the drain has, from the start of `evac apply`")
            else { return nil }
            w.durationMs = ms
        case (nil, let e?):
            guard let s = e.scalar, let at = MaintenanceWindow.parseEnd(s.value) else {
                r.sink.error(
                    e.mark, span: max(1, e.scalar?.value.count ?? 1), "window.ends is not a time with a zone",
                    help: "write an RFC 3339 time such as 2026-12-01T18:00:00Z or 2026-12-01T19:00:00+01:00")
                return nil
            }
            w.endsAtMs = at
        case (let d?, _?):
            r.sink.error(d.mark, "window has both duration and ends", help: "give one of them")
            return nil
        case (nil, nil):
            r.sink.error(node.mark, "window needs duration or ends", help: "e.g. window: { duration: 2h }")
            return nil
        }
        return w
    }

    /// "20m" (fixed) or "2m/GiB" / "2m per GiB" (scaled by guest memory).
    static func readTimeout(_ node: Node, _ r: inout NodeReader) -> MigrationOptions.Timeout? {
        guard let s = node.scalar else {
            r.typeError(node, expected: "a duration", context: "timeout")
            return nil
        }
        let (d, perGiB) = Units.timeoutScale(s.value)
        if perGiB {
            guard
                let ms = r.duration(
                    .scalar(.init(value: d, mark: s.mark)), context: "timeout", MigrationOptions.Bounds.timeoutPerGiBMs,
                    why: "omit timeout for none")
            else { return nil }
            return .perGiB(milliseconds: ms)
        }
        guard
            let ms = r.duration(
                node, context: "timeout", MigrationOptions.Bounds.timeoutMs, why: "omit timeout for none")
        else { return nil }
        return .fixed(milliseconds: ms)
    }

    // MARK: references between sections

    static func checkReferences(_ spec: PlanSpec, _ r: inout NodeReader) {
        let known = Set(spec.hosts.map(\.name)).union(r.declaredHosts)
        let hostNames = spec.hosts.map(\.name)
        func unknown(_ h: Located<String>, _ role: String) {
            let help =
                Spelling.closest(to: h.value, in: hostNames).map { "did you mean '\($0)'?" }
                ?? "add it under hosts: with its uri"
            r.sink.error(h.mark, span: h.value.count, "\(role) '\(h.value)' is not defined in hosts", help: help)
        }
        let sources = Set(spec.sourceNames)
        for s in spec.sources where !known.contains(s.value) { unknown(s, "source") }
        var firstPool: [String: String] = [:]
        for pool in spec.targetPools {
            for h in pool.hosts {
                if !known.contains(h.value) { unknown(h, "target") }
                // A rolling cycle drains its sources one batch at a time into the others.
                if sources.contains(h.value) && spec.rolling == nil {
                    r.sink.error(
                        h.mark, span: h.value.count, "host '\(h.value)' is both a source and a target",
                        help:
                            "a host being drained cannot receive guests; remove it from target pool '\(pool.name)' or from sources"
                    )
                }
                if let other = firstPool[h.value], other != pool.name {
                    r.sink.warning(
                        h.mark, span: h.value.count,
                        "host '\(h.value)' is in target pools '\(other)' and '\(pool.name)'",
                        help: "it is considered once")
                }
                firstPool[h.value] = firstPool[h.value] ?? pool.name
            }
        }
        for pin in spec.constraints.pins {
            if !known.contains(pin.host.value) {
                unknown(pin.host, "pin target")
            } else if firstPool[pin.host.value] == nil {
                r.sink.error(
                    pin.host.mark, span: pin.host.value.count,
                    "guest '\(pin.guest.value)' is pinned to '\(pin.host.value)', which is not in any target pool",
                    help: "pin to a host listed under targets")
            }
        }
        checkAfterRulesStatically(spec, &r)
    }

    /// Cycles visible without an inventory: a rule whose move and after share a pattern, or rules
    /// whose patterns are literally the same in opposite directions. Guest-level cycles are
    /// found when the DAG is built.
    static func checkAfterRulesStatically(_ spec: PlanSpec, _ r: inout NodeReader) {
        let rules = spec.placement.after
        for (i, rule) in rules.enumerated() {
            let move = Set(rule.move.map(\.value.pattern))
            if let shared = rule.after.first(where: { move.contains($0.value.pattern) }) {
                r.sink.error(
                    shared.mark, "after rule \(i + 1) makes '\(shared.value)' wait for itself",
                    help: "a guest cannot move after itself; remove '\(shared.value)' from one side")
            }
            for (j, other) in rules.enumerated() where j > i {
                let otherMove = Set(other.move.map(\.value.pattern))
                let a1 = Set(rule.after.map(\.value.pattern))
                let a2 = Set(other.after.map(\.value.pattern))
                if !move.isDisjoint(with: a2) && !otherMove.isDisjoint(with: a1) {
                    r.sink.error(
                        other.mark,
                        "after rules \(i + 1) (line \(rule.mark.line)) and \(j + 1) (line \(other.mark.line)) form a cycle",
                        help: "each waits for the other; remove or narrow one of them")
                }
            }
        }
    }
}
