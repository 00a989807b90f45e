public import Foundation

/// The queries of the job engine: submitting, claiming, heartbeating and finishing jobs.
///
/// Every query takes the connection to run on, so callers choose the transaction and the
/// role: tenant-scoped calls run as `gnomon_app` with the tenant set, shard loops as
/// `gnomon_scheduler`. Writes a shard loop makes name the shard lease epoch they hold and do
/// nothing when the lease has moved on; writes an attempt makes name its lease token.
public struct JobStore: Sendable {
    /// The cluster's fixed number of shards.
    public let shardCount: Int

    /// Creates a store for a cluster with `shardCount` shards.
    public init(shardCount: Int) {
        self.shardCount = max(1, shardCount)
    }

    /// Reads the cluster's shard count, fixed when its schema was first created.
    public static func load(on connection: PostgresConnection) throws -> JobStore {
        let row = try connection.query("SELECT shard_count FROM gnomon_cluster").first
        guard let row else {
            throw StoreError(.unexpectedValue, "the database has no cluster row; apply the migrations first")
        }
        return JobStore(shardCount: try row.int("shard_count"))
    }

    /// The shard a job lives in, derived from its id so that it is stable and evenly spread.
    public func shard(of id: UUID) -> Int {
        let bytes = id.uuid
        let value = UInt32(bytes.12) << 24 | UInt32(bytes.13) << 16 | UInt32(bytes.14) << 8 | UInt32(bytes.15)
        return Int(value % UInt32(self.shardCount))
    }
}

/// How long to wait between attempts, as the job was submitted.
public struct BackoffSettings: Sendable, Hashable {
    public var initialDelayMilliseconds: Int64
    public var maximumDelayMilliseconds: Int64
    public var multiplier: Double
    public var jitter: Double

    /// Creates settings; the defaults are the server's.
    public init(
        initialDelayMilliseconds: Int64 = 1_000,
        maximumDelayMilliseconds: Int64 = 3_600_000,
        multiplier: Double = 2,
        jitter: Double = 0.2
    ) {
        self.initialDelayMilliseconds = initialDelayMilliseconds
        self.maximumDelayMilliseconds = maximumDelayMilliseconds
        self.multiplier = multiplier
        self.jitter = jitter
    }
}

/// A job to insert, with every default already applied by the caller.
public struct NewJob: Sendable, Hashable {
    public var queue: String
    public var jobType: String
    /// The payload: a JSON document in UTF-8.
    public var payloadJSON: String
    public var labels: [String: String]
    /// When the job is first due; `nil` means now, on the database's clock.
    public var runAt: Date?
    public var priority: Int
    public var maxAttempts: Int
    public var backoff: BackoffSettings
    public var attemptTimeoutMilliseconds: Int64
    public var idempotencyKey: String?
    /// The HTTP target as a JSON object, for jobs the server pushes; `nil` for worker jobs.
    public var httpTargetJSON: String?
    public var scheduleID: String?
    public var fireTime: Date?
    public var traceparent: String?

    /// Creates a job; every parameter but the queue has the server's default.
    public init(
        queue: String,
        jobType: String = "",
        payloadJSON: String = "null",
        labels: [String: String] = [:],
        runAt: Date? = nil,
        priority: Int = 0,
        maxAttempts: Int = 25,
        backoff: BackoffSettings = BackoffSettings(),
        attemptTimeoutMilliseconds: Int64 = 300_000,
        idempotencyKey: String? = nil,
        httpTargetJSON: String? = nil,
        scheduleID: String? = nil,
        fireTime: Date? = nil,
        traceparent: String? = nil
    ) {
        self.queue = queue
        self.jobType = jobType
        self.payloadJSON = payloadJSON
        self.labels = labels
        self.runAt = runAt
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.attemptTimeoutMilliseconds = attemptTimeoutMilliseconds
        self.idempotencyKey = idempotencyKey
        self.httpTargetJSON = httpTargetJSON
        self.scheduleID = scheduleID
        self.fireTime = fireTime
        self.traceparent = traceparent
    }
}

/// The outcome of inserting one job.
public struct InsertedJob: Sendable, Hashable {
    public var id: UUID
    public var shard: Int
    /// False when the idempotency key matched an earlier job, whose id this is.
    public var created: Bool

    /// Creates an outcome.
    public init(id: UUID, shard: Int, created: Bool) {
        self.id = id
        self.shard = shard
        self.created = created
    }
}
