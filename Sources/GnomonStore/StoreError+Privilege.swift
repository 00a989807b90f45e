extension StoreError {
    /// This error, or one with code `insufficientPrivilege` when PostgreSQL refused the statement
    /// for the transaction's role or for row-level security (SQLSTATE 42501).
    ///
    /// - Parameters:
    ///   - action: What was refused, such as "creating a tenant".
    ///   - needed: The transaction that may do it, such as "a platform transaction".
    func explainingPrivilege(_ action: String, needs needed: String) -> StoreError {
        guard self.sqlState == "42501" else {
            return self
        }
        return StoreError(
            .insufficientPrivilege,
            "\(action) needs \(needed); PostgreSQL refused it in this transaction: \(self.message)",
            underlying: self,
            sqlState: self.sqlState
        )
    }
}

/// The transactions that store functions document, for messages.
enum TransactionKind {
    static let platform = "a platform transaction (PostgresPool.withPlatformTransaction, role gnomon_scheduler)"
    static let tenant = "a transaction for that tenant (PostgresPool.withTenantTransaction, role gnomon_app)"
    static let either = "a platform transaction, or a transaction for that tenant"
}
