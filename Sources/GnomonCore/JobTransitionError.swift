/// An event that a job in its current state cannot take.
///
/// The message names the state and the event, and says which states could have taken it:
/// "a succeeded job cannot be claimed: only pending jobs and jobs waiting to retry can be".
public struct JobTransitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the event was refused, open to new reasons without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A stable lower-case name for the reason.
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// No job in this state can take this event.
        public static let illegalTransition = Code("illegal_transition")

        /// The job could be claimed, but not before its due time.
        public static let notDue = Code("not_due")

        /// The code's name, as written in logs.
        public var description: String {
            self.name
        }
    }

    /// Why the event was refused.
    public var code: Code

    /// The state the job was in.
    public var state: JobState

    /// The event it could not take.
    public var event: JobEvent.Kind

    /// One sentence naming the state and the event.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: Why the event was refused.
    ///   - state: The state the job was in.
    ///   - event: The event it could not take.
    ///   - message: One sentence naming the state and the event.
    public init(code: Code, state: JobState, event: JobEvent.Kind, message: String) {
        self.code = code
        self.state = state
        self.event = event
        self.message = message
    }

    /// The message.
    public var description: String {
        self.message
    }
}

extension JobTransitionError {
    /// The error for an event that no job in `state` can take.
    static func illegal(_ state: JobState, _ event: JobEvent.Kind) -> JobTransitionError {
        JobTransitionError(
            code: .illegalTransition,
            state: state,
            event: event,
            message: "\(state.subject) cannot \(Self.predicate(of: event)): \(Self.remedy(for: event))"
        )
    }

    /// The error for a claim that comes before the job's due time.
    static func notDue(_ state: JobState) -> JobTransitionError {
        JobTransitionError(
            code: .notDue,
            state: state,
            event: .claimed,
            message: "\(state.subject) cannot be claimed before it is due"
        )
    }

    private static func predicate(of event: JobEvent.Kind) -> String {
        switch event {
        case .claimed:
            return "be claimed"
        case .completed:
            return "be completed"
        case .failed:
            return "fail"
        case .leaseExpired:
            return "have its lease expire"
        case .cancelRequested:
            return "be cancelled"
        case .retryRequested:
            return "be retried"
        }
    }

    private static func remedy(for event: JobEvent.Kind) -> String {
        switch event {
        case .claimed:
            return "only pending jobs and jobs waiting to retry can be"
        case .completed, .failed, .leaseExpired:
            return "only a running job has an attempt that can end"
        case .cancelRequested:
            return "only pending, running and waiting jobs can be"
        case .retryRequested:
            return "only dead and cancelled jobs and jobs waiting to retry can be"
        }
    }
}
