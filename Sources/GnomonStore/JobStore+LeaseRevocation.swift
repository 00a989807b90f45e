public import Foundation

extension JobStore {
    /// The running attempts a worker holds: each job's id with its attempt's lease token.
    ///
    /// - Parameters:
    ///   - tenantID: The worker's tenant.
    ///   - worker: The worker's id, as its claims recorded it.
    ///   - connection: The tenant's transaction.
    /// - Returns: The lease token of each running job, by job id.
    public func runningLeases(
        tenantID: String,
        worker: String,
        on connection: PostgresConnection
    ) throws -> [UUID: UUID] {
        let rows = try connection.query(
            """
            SELECT id, lease_token FROM gnomon_jobs
            WHERE tenant_id = $1 AND worker_id = $2 AND state = 'running'
            """,
            [tenantID, worker]
        ).rows
        var leases: [UUID: UUID] = [:]
        for row in rows {
            leases[try Self.uuid(row, "id")] = try Self.uuid(row, "lease_token")
        }
        return leases
    }

    /// Which of these ended attempts ended because their job was cancelled.
    ///
    /// An attempt is named by its lease token, so an earlier attempt of the same job that
    /// was cancelled before a retry does not count.
    ///
    /// - Parameters:
    ///   - leases: The lease token of each attempt, by job id.
    ///   - connection: The tenant's transaction.
    /// - Returns: The ids of the jobs whose attempt was cancelled.
    public func cancelledLeases(_ leases: [UUID: UUID], on connection: PostgresConnection) throws -> Set<UUID> {
        guard !leases.isEmpty else {
            return []
        }
        let rows = try connection.query(
            """
            SELECT job_id, lease_token FROM gnomon_job_attempts
            WHERE job_id = ANY($1::uuid[]) AND lease_token = ANY($2::uuid[]) AND outcome = 'cancelled'
            """,
            [
                PostgresArray.literal(leases.keys.map { $0.uuidString.lowercased() }),
                PostgresArray.literal(leases.values.map { $0.uuidString.lowercased() }),
            ]
        ).rows
        var cancelled: Set<UUID> = []
        for row in rows {
            let id = try Self.uuid(row, "job_id")
            if leases[id] == (try Self.uuid(row, "lease_token")) {
                cancelled.insert(id)
            }
        }
        return cancelled
    }
}
