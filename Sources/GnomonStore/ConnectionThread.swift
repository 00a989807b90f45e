import CGnomonShims
import Foundation

/// A thread of its own that runs blocking work in order, away from Swift's cooperative pool.
final class ConnectionThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false

    private static let marker = "gnomon.connection-thread"

    /// Starts the thread.
    init(name: String) {
        let thread = Thread { [self] in
            // Foundation on Linux does not pass a thread's name on to the system.
            gnomon_set_thread_name(name)
            Thread.current.threadDictionary[Self.marker] = name
            self.runLoop()
        }
        thread.start()
    }

    /// The name of the connection thread the caller runs on, or nil on any other thread.
    static var currentName: String? {
        Thread.current.threadDictionary[Self.marker] as? String
    }

    /// Runs `work` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.enqueue { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Lets the thread finish the work queued so far, then end.
    func stop() {
        self.condition.lock()
        self.stopping = true
        self.condition.signal()
        self.condition.unlock()
    }

    private func enqueue(_ job: @escaping () -> Void) {
        self.condition.lock()
        self.jobs.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    private func runLoop() {
        while let job = self.nextJob() {
            job()
        }
    }

    private func nextJob() -> (() -> Void)? {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.jobs.isEmpty && !self.stopping {
            self.condition.wait()
        }
        return self.jobs.isEmpty ? nil : self.jobs.removeFirst()
    }
}
