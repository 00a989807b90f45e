import Foundation

/// Runs blocking work, such as a libpq call, on a thread of its own.
///
/// Swift's cooperative pool has one thread per core; blocking one of them stalls every task
/// queued behind it, so blocking calls never run there.
enum BlockingWork {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}
