import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// The dirty-rate sample's error path on libvirt's test driver (which has no dirty-rate
/// calculation) and its reading of libvirt's `dirtyrate.*` fields. The measurement itself is
/// proven on the lab (LabEndToEndTests, the dirtying guest).
@Suite struct DirtyRateSampleTests {
    @Test func unsupportedCalculationIsUnknownNotZero() async throws {
        let sampled = try await InventoryReader.readHost(name: "kvm-12a", uri: Rack12.uri("kvm-12a"), dirtyRates: true)
            .get()
        let plain = try await InventoryReader.readHost(name: "kvm-12a", uri: Rack12.uri("kvm-12a"), dirtyRates: false)
            .get()
        #expect(sampled.guests.contains { $0.state == .running }, "the fixture has running guests to sample")
        #expect(sampled.guests.allSatisfy { $0.dirtyRateBytesPerSec == nil })
        #expect(sampled == plain, "a failed sample changes nothing else in the read")
    }

    /// The refused start is consumed: it starts nothing, and the next failing call reports its own error.
    @Test func refusedStartLeavesNoErrorBehind() throws {
        let c = try LibvirtConnection(uri: Rack12.uri("kvm-12a"))
        let sample = DirtyRateSample(connection: c, domains: try c.domains())
        #expect(sample.started.isEmpty)
        #expect(sample.readings().isEmpty)
        #expect(throws: LibvirtError.self) { try c.requireDomain(uuid: "00000000-0000-4000-8000-00000000dead") }
        do {
            _ = try c.requireDomain(uuid: "00000000-0000-4000-8000-00000000dead")
        } catch {
            #expect(error.isNoDomain, "the look-up's own error, not the dirty-rate one: \(error)")
        }
    }

    @Test func measuredFieldsGiveBytesPerSecond() {
        let measured = DirtyRateSample.measuredStatus
        #expect(
            DirtyRateSample.bytesPerSecond([
                "dirtyrate.calc_status": measured, "dirtyrate.megabytes_per_second": "58",
            ]) == 58 << 20)
        #expect(
            DirtyRateSample.bytesPerSecond([
                "dirtyrate.calc_status": measured, "dirtyrate.megabytes_per_second": "0",
            ]) == 0, "idle is a measured 0")
        // Still measuring, never started, no figure, a negative or overflowing figure: unknown.
        #expect(
            DirtyRateSample.bytesPerSecond(["dirtyrate.calc_status": "1", "dirtyrate.megabytes_per_second": "5"]) == nil
        )
        #expect(DirtyRateSample.bytesPerSecond(["dirtyrate.calc_status": "0"]) == nil)
        #expect(DirtyRateSample.bytesPerSecond(["dirtyrate.calc_status": measured]) == nil)
        #expect(
            DirtyRateSample.bytesPerSecond([
                "dirtyrate.calc_status": measured, "dirtyrate.megabytes_per_second": "-1",
            ]) == nil)
        #expect(
            DirtyRateSample.bytesPerSecond([
                "dirtyrate.calc_status": measured, "dirtyrate.megabytes_per_second": String(Int64.max),
            ]) == nil)
        #expect(DirtyRateSample.bytesPerSecond([:]) == nil)
        // balloon.rss, KiB, read in the same call.
        #expect(DirtyRateSample.residentKiB(["balloon.rss": "98304"]) == 98304)
        #expect(DirtyRateSample.residentKiB(["balloon.rss": "-1"]) == nil)
        #expect(DirtyRateSample.residentKiB([:]) == nil)
    }
}
