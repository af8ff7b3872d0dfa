extension PlanReader {
    /// `rolling: { at-a-time: 1, wait-for-host: 10m, return-guests: true, maintenance: [...] }`.
    static func readRolling(_ node: Node, _ r: inout NodeReader, hostRefs: inout [String: Mark]) -> RollingSpec? {
        guard
            let m = r.mapping(
                node, context: "rolling", known: ["at-a-time", "wait-for-host", "return-guests", "maintenance"])
        else { return nil }
        var spec = RollingSpec()
        if let v = m["at-a-time"]?.value, let n = r.int(v, context: "rolling.at-a-time", min: 1, max: 64) {
            spec.atATime = n
        }
        if let v = m["wait-for-host"]?.value,
            let ms = r.duration(
                v, context: "rolling.wait-for-host", RollingSpec.waitForHostBoundsMs,
                why: "a host that has not answered libvirt by then stops the cycle (resume waits again)")
        {
            spec.waitForHostMs = ms
        }
        if let v = m["return-guests"]?.value, let b = r.bool(v, context: "rolling.return-guests") {
            spec.returnGuests = b
        }
        if let v = m["maintenance"]?.value {
            spec.maintenance = readHookList(
                v, point: .maintenance, context: "rolling.maintenance", &r, hostRefs: &hostRefs)
        }
        return spec
    }
}
