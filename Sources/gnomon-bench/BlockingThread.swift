import Foundation

/// Runs blocking work, such as libpq calls, on a thread of its own.
///
/// Swift's cooperative pool has one thread per core; a blocking call there would stall every
/// task queued behind it, so the benchmark's connections live on dedicated threads.
enum BlockingThread {
    /// Runs `body` on a new thread and returns what it returns once it finishes.
    ///
    /// - Parameters:
    ///   - name: The thread's name, as debuggers and `top -H` show it.
    ///   - body: The work, free to block.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    static func run<T: Sendable>(
        name: String,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try body() })
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
