import Foundation
import GnomonNetwork

extension RPCBenchmark {
    /// How long the processes are left alone before their memory is read.
    static let settleTime: Duration = .seconds(2)
    /// How many idle connections are opened at once, within the listener's backlog.
    static let connectingAtOnce = 64

    /// Measures the server's resident memory per idle connection.
    ///
    /// The server is warmed up first, so that its threads, allocator arenas and TLS state exist
    /// before the baseline is read. Each idle connection then completes its TLS handshake and
    /// one call, so the server holds it as an established connection, and stays open, unused.
    func measureIdleMemory() async throws {
        let count = self.options.idleConnections
        printProgress("idle memory: warming the server up")
        try await self.warmUpServer()
        try await Task.sleep(for: Self.settleTime)
        let before = try self.server.status()
        let clientBefore = try ProcessStatus.read()

        printProgress("idle memory: opening \(formatCount(count)) connections")
        let opening = self.clock.now
        let channels = try await self.openIdleChannels(count)
        let openingTime = self.clock.now - opening
        try await Task.sleep(for: Self.settleTime)
        let settled = try self.server.status()
        let settledAt = self.clock.now
        try await Task.sleep(for: Self.settleTime)
        let open = try self.server.status()
        let idleCPU = (open.cpuTime - settled.cpuTime).seconds / (self.clock.now - settledAt).seconds
        let clientOpen = try ProcessStatus.read()

        printProgress("idle memory: closing the connections")
        for channel in channels {
            channel.close()
        }
        try await Task.sleep(for: Self.settleTime)
        let closed = try self.server.status()

        let perConnection = Double(open.residentKiB - before.residentKiB) / Double(count)
        let clientPerConnection = Double(clientOpen.residentKiB - clientBefore.residentKiB) / Double(count)
        self.report.add(
            "server memory per idle connection",
            String(format: "%.1f KiB", perConnection),
            note: Self.idleMemoryTarget.verdict(for: perConnection) + "; server resident memory "
                + "\(formatMebibytes(before.residentKiB)) before, \(formatMebibytes(open.residentKiB)) with "
                + "\(formatCount(count)) connections open (\(formatCount(open.openDescriptors - before.openDescriptors)) "
                + "more descriptors), \(formatMebibytes(closed.residentKiB)) after closing them "
                + "(\(formatCount(closed.openDescriptors - before.openDescriptors)) descriptors left); "
                + String(format: "server CPU while they idle: %.1f%% of a core; ", idleCPU * 100)
                + String(format: "client: %.1f KiB per connection; ", clientPerConnection)
                + "opening them took \(formatMilliseconds(openingTime))"
        )
    }

    /// Gives the server a second of calls on a few connections, then closes them.
    private func warmUpServer() async throws {
        let channels = (0..<8).map { _ in self.makeChannel() }
        defer {
            for channel in channels {
                channel.close()
            }
        }
        try await self.connect(channels)
        let now = self.clock.now
        let tally = await self.drive(channels, window: CountingWindow(start: now, end: now + .seconds(1)))
        if let failure = tally.firstFailure {
            throw BenchError("the server's warm-up calls failed: \(failure)")
        }
    }

    /// Opens `count` channels, ``connectingAtOnce`` at a time, each with one call made.
    private func openIdleChannels(_ count: Int) async throws -> [RPCChannel] {
        let channels = (0..<count).map { _ in self.makeChannel() }
        do {
            for batch in stride(from: 0, to: count, by: Self.connectingAtOnce) {
                try await self.connect(Array(channels[batch..<min(batch + Self.connectingAtOnce, count)]))
            }
        } catch {
            for channel in channels {
                channel.close()
            }
            throw error
        }
        return channels
    }
}
