import Foundation
import Synchronization

/// A fixed set of event loops that connections are spread over, one thread each.
///
/// The loops run until ``shutdown()``; releasing the group does not stop them.
public final class EventLoopGroup: Sendable {
    /// The loops, in the order ``next()`` hands them out.
    public let loops: [EventLoop]

    private let cursor = Atomic<Int>(0)

    /// One loop per active processor core.
    public static var defaultThreadCount: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Starts `threads` loops, named `<name>-0`, `<name>-1`, and so on.
    ///
    /// - Parameters:
    ///   - threads: How many loops; by default one per active processor core.
    ///   - name: The prefix of the threads' names.
    /// - Throws: ``SystemError`` when a loop cannot start; the loops started so far are shut down.
    public init(
        threads: Int = EventLoopGroup.defaultThreadCount,
        name: String = "gnomon-io"
    ) throws(SystemError) {
        precondition(threads > 0, "an event loop group needs at least one thread")
        var loops: [EventLoop] = []
        do {
            for index in 0..<threads {
                loops.append(try EventLoop(name: "\(name)-\(index)"))
            }
        } catch {
            for loop in loops {
                loop.shutdown()
            }
            throw error
        }
        self.loops = loops
    }

    /// The next loop, round robin; any thread may call.
    public func next() -> EventLoop {
        let index = self.cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        return self.loops[Int(index.magnitude % UInt(self.loops.count))]
    }

    /// Shuts every loop down and waits for their threads; not from one of the group's loops.
    public func shutdown() {
        for loop in self.loops {
            loop.shutdown()
        }
    }

    /// Shuts every loop down as ``shutdown()`` does, waiting on a thread outside Swift's pool.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.shutdown()
                continuation.resume()
            }
        }
    }
}
