import Glibc

/// A system call that failed: its name, the `errno` it set, and the system's text for it.
///
/// Network code branches on ``errno`` (`ECONNREFUSED`, `ETIMEDOUT`, …); people read
/// ``description``, such as `connect: Connection refused (errno 111)`.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failing call, such as `connect` or `accept4`, or the operation that gave up.
    public var call: String
    /// The error number, as `ECONNREFUSED`; for `getaddrinfo`, its negative `EAI_*` code.
    public var errno: Int32
    /// The system's text for the error, such as `Connection refused`.
    public var reason: String

    /// Creates an error, taking the reason from `strerror` unless one is given.
    ///
    /// - Parameters:
    ///   - call: The failing call or operation.
    ///   - errno: The error number.
    ///   - reason: The text for people; `strerror(errno)` when `nil`.
    public init(call: String, errno: Int32, reason: String? = nil) {
        self.call = call
        self.errno = errno
        self.reason = reason ?? String(cString: strerror(errno))
    }

    /// The call, the reason and the number on one line.
    public var description: String {
        "\(self.call): \(self.reason) (errno \(self.errno))"
    }

    /// The error for `call` from the calling thread's current `errno`.
    static func current(_ call: String) -> SystemError {
        SystemError(call: call, errno: Glibc.errno)
    }
}

/// Runs a system call until it is not interrupted by a signal.
///
/// - Parameters:
///   - name: The call's name, for the error.
///   - body: The call; it reports failure by returning -1 and setting `errno`.
/// - Returns: The call's non-negative result.
/// - Throws: ``SystemError`` with the call's name and `errno` when it fails for another reason.
@discardableResult
func retryingInterrupts<Result: BinaryInteger>(
    _ name: String,
    _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result >= 0 {
            return result
        }
        if Glibc.errno != EINTR {
            throw SystemError.current(name)
        }
    }
}

/// The outcome of a non-blocking call that may have to wait for readiness.
enum NonBlockingResult<Value> {
    /// The call finished with this value.
    case done(Value)
    /// The call would have blocked (`EAGAIN`): wait for readiness and try again.
    case wouldBlock
}

/// Runs a non-blocking system call, retrying interruptions and reporting `EAGAIN` as a value.
///
/// - Parameters:
///   - name: The call's name, for the error.
///   - body: The call; it reports failure by returning -1 and setting `errno`.
/// - Returns: The call's result, or ``NonBlockingResult/wouldBlock``.
/// - Throws: ``SystemError`` for any failure other than `EINTR` and `EAGAIN`.
func nonBlocking<Result: BinaryInteger>(
    _ name: String,
    _ body: () -> Result
) throws(SystemError) -> NonBlockingResult<Result> {
    while true {
        let result = body()
        if result >= 0 {
            return .done(result)
        }
        switch Glibc.errno {
        case EINTR:
            continue
        case EAGAIN:
            return .wouldBlock
        default:
            throw SystemError.current(name)
        }
    }
}
