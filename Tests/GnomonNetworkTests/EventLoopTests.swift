import Foundation
import Glibc
import GnomonNetwork
import Testing

/// Reads a pipe whenever the loop reports it readable, and closes it when the loop shuts down.
private final class PipeReader: EventLoopIOHandler {
    let descriptor: Int32
    let loop: EventLoop
    let received: Recorder<[UInt8]>
    let closedByShutdown: Recorder<Bool>

    init(descriptor: Int32, loop: EventLoop, received: Recorder<[UInt8]>, closedByShutdown: Recorder<Bool>) {
        self.descriptor = descriptor
        self.loop = loop
        self.received = received
        self.closedByShutdown = closedByShutdown
    }

    func ioEventsReady(_ events: IOEvents) {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(self.descriptor, &buffer, buffer.count)
        if count > 0 {
            self.received.update { $0 += buffer[0..<count] }
        }
    }

    func eventLoopWillShutDown() {
        try? self.loop.deregister(fd: self.descriptor)
        close(self.descriptor)
        self.closedByShutdown.update { $0 = true }
    }
}

extension SocketTests {
    @Suite("Event loop")
    struct EventLoopTests {
        @Test("tasks handed over from many threads all run on the loop, each thread's in order")
        func executeFromManyThreads() async throws {
            let loop = try EventLoop(name: "test-execute")
            let seen = Recorder<[Int: [Int]]>([:])
            let offLoop = Recorder(0)
            let threads = 8
            let tasksPerThread = 500

            for thread in 0..<threads {
                Thread.detachNewThread {
                    for index in 0..<tasksPerThread {
                        loop.execute {
                            if !loop.inEventLoop {
                                offLoop.update { $0 += 1 }
                            }
                            seen.update { $0[thread, default: []].append(index) }
                        }
                    }
                }
            }
            let finished = await eventually {
                seen.current.values.reduce(0) { $0 + $1.count } == threads * tasksPerThread
            }

            #expect(finished)
            #expect(offLoop.current == 0)
            for indexes in seen.current.values {
                #expect(indexes == Array(0..<tasksPerThread))
            }
            #expect(!loop.inEventLoop)
            await loop.shutdown()
        }

        @Test("submit returns the loop's result and rethrows its error")
        func submitReturnsResults() async throws {
            let loop = try EventLoop(name: "test-submit")
            let onLoop = try await loop.submit { loop.inEventLoop }
            #expect(onLoop)
            await #expect(throws: SystemError.self) {
                try await loop.submit { throw SystemError(call: "test", errno: EIO) }
            }
            await loop.shutdown()
        }

        @Test("timers fire in deadline order, never early, and cancelled ones never fire")
        func timersFireInOrder() async throws {
            let loop = try EventLoop(name: "test-timers")
            let fired = Recorder<[String]>([])
            let started = ContinuousClock.now
            let elapsedAtLast = Recorder<Duration?>(nil)

            try await loop.submit {
                loop.scheduleTimer(after: .milliseconds(60)) {
                    fired.update { $0.append("c") }
                    elapsedAtLast.update { $0 = ContinuousClock.now - started }
                }
                loop.scheduleTimer(after: .milliseconds(20)) { fired.update { $0.append("a") } }
                let cancelled = loop.scheduleTimer(after: .milliseconds(30)) { fired.update { $0.append("x") } }
                loop.scheduleTimer(after: .milliseconds(40)) { fired.update { $0.append("b") } }
                loop.scheduleTimer(after: .zero) { fired.update { $0.append("now") } }
                loop.scheduleTimer(after: .zero) { fired.update { $0.append("now2") } }
                #expect(loop.cancelTimer(cancelled))
                #expect(!loop.cancelTimer(cancelled))
            }

            #expect(await eventually { fired.current.count == 5 })
            try await Task.sleep(for: .milliseconds(50))
            #expect(fired.current == ["now", "now2", "a", "b", "c"])
            #expect((elapsedAtLast.current ?? .zero) >= .milliseconds(60))
            await loop.shutdown()
        }

        @Test("a thousand timers with most cancelled: the rest fire, in order")
        func manyTimersWithCancellation() async throws {
            let loop = try EventLoop(name: "test-many-timers")
            let fired = Recorder<[Int]>([])

            try await loop.submit {
                var ids: [TimerID] = []
                for index in 0..<1000 {
                    let delay = Duration.milliseconds(Self.delayMilliseconds(index))
                    ids.append(loop.scheduleTimer(after: delay) { fired.update { $0.append(index) } })
                }
                for (index, id) in ids.enumerated() where index % 10 != 0 {
                    loop.cancelTimer(id)
                }
            }

            #expect(await eventually { fired.current.count == 100 })
            try await Task.sleep(for: .milliseconds(80))
            let indexes = fired.current
            #expect(indexes.count == 100)
            #expect(indexes.allSatisfy { $0 % 10 == 0 })
            let keys = indexes.map { [Self.delayMilliseconds($0), $0] }
            #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
            await loop.shutdown()
        }

        /// Delays in steps of 5 ms, wider than the time scheduling them all takes.
        private static func delayMilliseconds(_ index: Int) -> Int {
            5 + 5 * ((index / 10 * 7) % 10)
        }

        @Test("a registered descriptor is reported while of interest, and closed by its handler at shutdown")
        func registration() async throws {
            let loop = try EventLoop(name: "test-register")
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            let (readEnd, writeEnd) = (ends[0], ends[1])
            #expect(fcntl(readEnd, F_SETFL, O_NONBLOCK) == 0)
            defer { close(writeEnd) }
            let received = Recorder<[UInt8]>([])
            let closedByShutdown = Recorder(false)

            try await loop.submit {
                let reader = PipeReader(
                    descriptor: readEnd, loop: loop, received: received, closedByShutdown: closedByShutdown)
                try loop.register(fd: readEnd, interest: .readable, handler: reader)
            }
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
            #expect(await eventually { received.current == [1] })

            try await loop.submit { try loop.modify(fd: readEnd, interest: []) }
            byte = 2
            _ = write(writeEnd, &byte, 1)
            try await Task.sleep(for: .milliseconds(50))
            #expect(received.current == [1])

            try await loop.submit { try loop.modify(fd: readEnd, interest: .readable) }
            #expect(await eventually { received.current == [1, 2] })
            await #expect(throws: SystemError.self) {
                try await loop.submit { try loop.modify(fd: 9999, interest: .readable) }
            }

            await loop.shutdown()
            #expect(closedByShutdown.current)
            #expect(fcntl(readEnd, F_GETFD) == -1)
        }

        @Test("after shutdown the thread is gone, tasks are refused and submit fails with ESHUTDOWN")
        func shutdownRefusesWork() async throws {
            let loop = try EventLoop(name: "test-shutdown")
            let ran = Recorder(false)
            loop.execute { ran.update { $0 = true } }
            await loop.shutdown()
            #expect(ran.current)

            #expect(!loop.execute {})
            do {
                _ = try await loop.submit { 1 }
                Issue.record("submit on a shut-down loop succeeded")
            } catch let error as SystemError {
                #expect(error.errno == ESHUTDOWN)
            }
            await loop.shutdown()
        }

        @Test("a group hands its loops out round robin")
        func groupRoundRobin() async throws {
            let group = try EventLoopGroup(threads: 3, name: "test-group")
            let picked = (0..<6).map { _ in ObjectIdentifier(group.next()) }
            let loops = group.loops.map(ObjectIdentifier.init)

            #expect(group.loops.count == 3)
            #expect(Set(loops).count == 3)
            #expect(Array(picked[0..<3]) == Array(picked[3..<6]))
            #expect(Set(picked) == Set(loops))
            await group.shutdown()
        }

        @Test("starting and shutting down loops leaves no descriptor open")
        func loopsReleaseDescriptors() async throws {
            let before = DescriptorSnapshot.take()
            for _ in 0..<3 {
                let group = try EventLoopGroup(threads: 2, name: "test-fds")
                _ = try await group.next().submit { 1 }
                #expect(DescriptorSnapshot.take().opened(since: before, ports: []).count == 4)
                await group.shutdown()
            }
            #expect(DescriptorSnapshot.take().opened(since: before, ports: []) == [])
        }
    }
}
