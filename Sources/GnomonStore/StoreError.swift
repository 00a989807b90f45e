/// An error from the storage layer: what went wrong, and what would be right.
///
/// The ``code`` is for programs to branch on; the ``message`` is for people and names the
/// input that was wrong, the command that failed and, where there was one, its output.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new codes may be added in later versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String

        /// No folder holding the PostgreSQL programs `initdb` and `pg_ctl` was found.
        public static let binariesNotFound = Code(raw: "binaries_not_found")
        /// `initdb` could not create the cluster.
        public static let initdbFailed = Code(raw: "initdb_failed")
        /// The server did not start, or did not become ready.
        public static let startFailed = Code(raw: "start_failed")
        /// The server did not stop.
        public static let stopFailed = Code(raw: "stop_failed")
        /// A file, folder or account could not be used with the rights at hand.
        public static let permissionDenied = Code(raw: "permission_denied")
        /// No connection to the server could be made.
        public static let connectionFailed = Code(raw: "connection_failed")
        /// A connection URL or key=value string could not be parsed.
        public static let invalidConnectionString = Code(raw: "invalid_connection_string")
        /// The server refused or failed a statement.
        public static let queryFailed = Code(raw: "query_failed")
        /// A value read from the database does not have the expected type or shape.
        public static let unexpectedValue = Code(raw: "unexpected_value")
        /// A parameter value cannot be sent as it is.
        public static let invalidParameter = Code(raw: "invalid_parameter")
        /// The connection pool was shut down.
        public static let poolClosed = Code(raw: "pool_closed")
        /// The configuration asks for something that cannot be done.
        public static let invalidConfiguration = Code(raw: "invalid_configuration")
        /// An argument is out of range or malformed; the message names it and what is accepted.
        public static let invalidArgument = Code(raw: "invalid_argument")
        /// The row asked for does not exist, or row-level security hides it from this tenant.
        public static let notFound = Code(raw: "not_found")
        /// A row with the same key exists already.
        public static let alreadyExists = Code(raw: "already_exists")
        /// The row is not in a state the operation applies to, such as cancelling a job that
        /// already succeeded; the message names the state found and the states accepted.
        public static let failedPrecondition = Code(raw: "failed_precondition")
        /// A tenant's quota would be exceeded; ``StoreError/quota`` says which and by how much.
        public static let quotaExceeded = Code(raw: "quota_exceeded")
        /// The transaction's database role may not do this: the call ran in the wrong kind of
        /// transaction, such as a tenant's where a platform transaction was needed.
        public static let insufficientPrivilege = Code(raw: "insufficient_privilege")
        /// A time-partitioned table has no partition for the row's time: partition upkeep has
        /// not run for longer than it creates partitions ahead.
        public static let partitionMissing = Code(raw: "partition_missing")

        /// The code's stable snake_case name, such as `start_failed`.
        public var description: String {
            self.raw
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong and what would be right, for people.
    public var message: String
    /// The lower-level error that caused this one, if any.
    public var underlying: (any Error)?
    /// PostgreSQL's SQLSTATE when the server refused a statement, such as `23505`.
    public var sqlState: String?
    /// Which quota refused the request, for errors with code `quotaExceeded`.
    public var quota: QuotaViolation?
    /// The source file that threw, as `Module/File.swift`.
    public var file: String
    /// The line that threw.
    public var line: Int

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: What was wrong and what would be right; never a password.
    ///   - underlying: The lower-level error that caused this one.
    ///   - sqlState: PostgreSQL's SQLSTATE, when the server refused a statement.
    ///   - quota: Which quota refused the request, for code `quotaExceeded`.
    public init(
        _ code: Code,
        _ message: String,
        underlying: (any Error)? = nil,
        sqlState: String? = nil,
        quota: QuotaViolation? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.sqlState = sqlState
        self.quota = quota
        self.file = file
        self.line = line
    }

    /// The code, the message and the underlying cause on one line.
    public var description: String {
        var text = "StoreError.\(self.code): \(self.message)"
        if let sqlState = self.sqlState {
            text += " [SQLSTATE \(sqlState)]"
        }
        if let underlying = self.underlying {
            text += " (caused by: \(underlying))"
        }
        return text
    }
}
