import Foundation
import Testing

@testable import EvacLibvirt

/// Shared connections for short calls, borrowed ones for calls that block (on the test driver).
@Suite struct ConnectionCacheTests {
    let uri = "test:///default"

    @Test func sharedConnectionIsOnePerURI() throws {
        let cache = ConnectionCache()
        let a = try cache.connection(uri)
        let b = try cache.connection(uri)
        #expect(a === b)
    }

    @Test func borrowedConnectionsAreNeverTheSharedOneNorEachOther() throws {
        let cache = ConnectionCache()
        let shared = try cache.connection(uri)
        let first = try cache.borrow(uri)
        let second = try cache.borrow(uri)
        #expect(first !== shared && second !== shared && first !== second)
        // Each works on its own: the test driver's default domain is visible through both.
        #expect(try first.domain(uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f") != nil)
        #expect(try second.domain(uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f") != nil)
    }

    @Test func aReturnedConnectionIsLentAgainNotShared() throws {
        let cache = ConnectionCache()
        let lent = try cache.borrow(uri)
        cache.giveBack(uri, lent)
        #expect(try cache.connection(uri) !== lent)
        let again = try cache.borrow(uri)
        #expect(again === lent)
        let other = try cache.borrow(uri) // the idle one is taken: a new one
        #expect(other !== lent)
    }

    @Test func idleConnectionsAreCapped() throws {
        let cache = ConnectionCache()
        let many = try (0..<12).map { _ in try cache.borrow(uri) }
        for c in many { cache.giveBack(uri, c) }
        let next = try (0..<12).map { _ in try cache.borrow(uri) }
        let reused = next.filter { n in many.contains { $0 === n } }.count
        #expect(reused == cache.idleLimit)
        #expect(cache.idleLimit < 12)
    }
}
