public import GnomonStore

extension TestDatabase {
    /// Runs `body` with a pool of superuser connections to this database, shut down afterwards.
    ///
    /// Two pools to one database stand for two nodes: each has connections of its own, and
    /// only PostgreSQL is shared between them.
    ///
    /// - Parameters:
    ///   - maximumConnections: The pool's size.
    ///   - body: The test, given the pool.
    /// - Returns: What `body` returns.
    public func withPool<T: Sendable>(
        maximumConnections: Int = 4,
        _ body: (PostgresPool) async throws -> T
    ) async throws -> T {
        let pool = PostgresPool(connectionString: self.connectionString, maximumConnections: maximumConnections)
        do {
            let result = try await body(pool)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}
