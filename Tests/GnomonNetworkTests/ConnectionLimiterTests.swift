import GnomonNetwork
import Testing

@Suite("Connection limiter")
struct ConnectionLimiterTests {
    @Test("the server-wide cap admits up to its maximum, and release reports that it was full")
    func serverCap() {
        let limiter = ConnectionLimiter(maximumConnections: 3, maximumConnectionsPerAddress: 10)
        for index in 0..<3 {
            #expect(limiter.tryAcquire(address: "10.0.0.\(index)") == .admitted)
        }
        #expect(limiter.isFull)
        #expect(limiter.tryAcquire(address: "10.0.0.9") == .serverFull)

        #expect(limiter.release(address: "10.0.0.1"))
        #expect(!limiter.isFull)
        #expect(!limiter.release(address: "10.0.0.2"))
        #expect(limiter.connectionCount == 1)
    }

    @Test("the per-address cap refuses one address while others are admitted")
    func addressCap() {
        let limiter = ConnectionLimiter(maximumConnections: 100, maximumConnectionsPerAddress: 2)
        #expect(limiter.tryAcquire(address: "2001:db8::1") == .admitted)
        #expect(limiter.tryAcquire(address: "2001:db8::1") == .admitted)
        #expect(limiter.tryAcquire(address: "2001:db8::1") == .addressFull)
        #expect(limiter.tryAcquire(address: "2001:db8::2") == .admitted)
        #expect(limiter.connectionCount(address: "2001:db8::1") == 2)

        limiter.release(address: "2001:db8::1")
        #expect(limiter.tryAcquire(address: "2001:db8::1") == .admitted)
        #expect(limiter.connectionCount == 3)
    }

    @Test("an IPv4-mapped IPv6 address counts as its IPv4 address")
    func mappedAddresses() {
        let limiter = ConnectionLimiter(maximumConnections: 10, maximumConnectionsPerAddress: 1)
        #expect(limiter.tryAcquire(address: "::ffff:192.0.2.7") == .admitted)
        #expect(limiter.tryAcquire(address: "192.0.2.7") == .addressFull)
        #expect(limiter.connectionCount(address: "192.0.2.7") == 1)
        limiter.release(address: "192.0.2.7")
        #expect(limiter.connectionCount == 0)
    }

    @Test("counts stay exact under concurrent acquires and releases")
    func concurrency() async {
        let limiter = ConnectionLimiter(maximumConnections: 1000, maximumConnectionsPerAddress: 1000)
        await withTaskGroup(of: Void.self) { tasks in
            for worker in 0..<8 {
                tasks.addTask {
                    let address = "10.1.0.\(worker % 3)"
                    for _ in 0..<2000 {
                        if limiter.tryAcquire(address: address) == .admitted {
                            limiter.release(address: address)
                        }
                    }
                }
            }
        }
        #expect(limiter.connectionCount == 0)
        #expect(!limiter.isFull)
    }
}
