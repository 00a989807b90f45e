/// What a tenant may use, as an administrator set it; zero means the deployment's default.
///
/// The values mirror the columns of `gnomon_tenants`. ``validate()`` refuses what no sane
/// deployment would ask for, so that a typing slip cannot switch a tenant's limits off.
public struct TenantQuotas: Sendable, Hashable {
    /// One quota, named as its column and as the protocol's field.
    public enum Field: String, Sendable, Hashable, CaseIterable {
        case submitRatePerSecond = "submit_rate_per_second"
        case submitBurst = "submit_burst"
        case maxPendingJobs = "max_pending_jobs"
        case maxSchedules = "max_schedules"
        case maxPayloadBytes = "max_payload_bytes"
        case maxConcurrentRuns = "max_concurrent_runs"
        case maxSecrets = "max_secrets"

        /// The largest value accepted; anything larger is taken for a mistake.
        public var maximum: Double {
            switch self {
            case .submitRatePerSecond: return 1_000_000
            case .submitBurst: return 10_000_000
            case .maxPendingJobs: return 1_000_000_000_000
            case .maxSchedules: return 10_000_000
            case .maxPayloadBytes: return Double(64 * 1_024 * 1_024)
            case .maxConcurrentRuns: return 10_000_000
            case .maxSecrets: return 1_000_000
            }
        }

        /// The unit the quota counts, for messages.
        var unit: String {
            switch self {
            case .submitRatePerSecond: return "submissions per second"
            case .submitBurst: return "submissions"
            case .maxPendingJobs: return "jobs"
            case .maxSchedules: return "schedules"
            case .maxPayloadBytes: return "bytes"
            case .maxConcurrentRuns: return "running attempts"
            case .maxSecrets: return "secrets"
            }
        }
    }

    /// Sustained job submissions per second.
    public var submitRatePerSecond: Double
    /// Submissions allowed at once above the sustained rate.
    public var submitBurst: Int64
    /// Jobs pending, running or waiting to retry at once.
    public var maxPendingJobs: Int64
    public var maxSchedules: Int64
    /// The largest payload or HTTP body, in bytes.
    public var maxPayloadBytes: Int64
    /// Attempts running at once, across workers and HTTP.
    public var maxConcurrentRuns: Int64
    public var maxSecrets: Int64

    /// Creates quotas; every one left out is zero, the deployment's default.
    public init(
        submitRatePerSecond: Double = 0,
        submitBurst: Int64 = 0,
        maxPendingJobs: Int64 = 0,
        maxSchedules: Int64 = 0,
        maxPayloadBytes: Int64 = 0,
        maxConcurrentRuns: Int64 = 0,
        maxSecrets: Int64 = 0
    ) {
        self.submitRatePerSecond = submitRatePerSecond
        self.submitBurst = submitBurst
        self.maxPendingJobs = maxPendingJobs
        self.maxSchedules = maxSchedules
        self.maxPayloadBytes = maxPayloadBytes
        self.maxConcurrentRuns = maxConcurrentRuns
        self.maxSecrets = maxSecrets
    }

    /// The value of one quota, as a `Double` so that every field reads alike.
    public subscript(field: Field) -> Double {
        switch field {
        case .submitRatePerSecond: return self.submitRatePerSecond
        case .submitBurst: return Double(self.submitBurst)
        case .maxPendingJobs: return Double(self.maxPendingJobs)
        case .maxSchedules: return Double(self.maxSchedules)
        case .maxPayloadBytes: return Double(self.maxPayloadBytes)
        case .maxConcurrentRuns: return Double(self.maxConcurrentRuns)
        case .maxSecrets: return Double(self.maxSecrets)
        }
    }

    /// These quotas with every zero replaced by the default's value for that quota.
    ///
    /// - Parameter defaults: The deployment's defaults; a zero there stays zero.
    public func resolved(over defaults: TenantQuotas) -> TenantQuotas {
        func pick<T: Numeric & Comparable>(_ own: T, _ fallback: T) -> T {
            own == 0 ? fallback : own
        }
        return TenantQuotas(
            submitRatePerSecond: pick(self.submitRatePerSecond, defaults.submitRatePerSecond),
            submitBurst: pick(self.submitBurst, defaults.submitBurst),
            maxPendingJobs: pick(self.maxPendingJobs, defaults.maxPendingJobs),
            maxSchedules: pick(self.maxSchedules, defaults.maxSchedules),
            maxPayloadBytes: pick(self.maxPayloadBytes, defaults.maxPayloadBytes),
            maxConcurrentRuns: pick(self.maxConcurrentRuns, defaults.maxConcurrentRuns),
            maxSecrets: pick(self.maxSecrets, defaults.maxSecrets)
        )
    }

    /// Every quota out of range, each with what was wrong and what is accepted.
    ///
    /// - Returns: One entry per wrong quota, in ``Field`` order; empty when all are valid.
    public func violations() -> [(field: Field, description: String)] {
        Field.allCases.compactMap { field in
            let value = self[field]
            let accepted = "expected 0 (the deployment's default) to \(Self.format(field.maximum)) \(field.unit)"
            if !value.isFinite {
                return (field, "\(field.rawValue) is \(value); \(accepted)")
            }
            if value < 0 || value > field.maximum {
                return (field, "\(field.rawValue) is \(self.text(of: field)); \(accepted)")
            }
            return nil
        }
    }

    /// Checks every quota against its accepted range.
    ///
    /// - Throws: ``StoreError`` with code `invalidArgument` naming each quota out of range,
    ///   its value and the range accepted.
    public func validate() throws {
        let violations = self.violations()
        guard violations.isEmpty else {
            throw StoreError(.invalidArgument, violations.map(\.description).joined(separator: "; "))
        }
    }

    /// The value of one quota as written: integers exactly, the rate as a number.
    private func text(of field: Field) -> String {
        switch field {
        case .submitRatePerSecond: return Self.format(self.submitRatePerSecond)
        case .submitBurst: return String(self.submitBurst)
        case .maxPendingJobs: return String(self.maxPendingJobs)
        case .maxSchedules: return String(self.maxSchedules)
        case .maxPayloadBytes: return String(self.maxPayloadBytes)
        case .maxConcurrentRuns: return String(self.maxConcurrentRuns)
        case .maxSecrets: return String(self.maxSecrets)
        }
    }

    /// A number without a fraction when it has none, such as `1000000` or `0.5`.
    static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return String(value)
    }
}
