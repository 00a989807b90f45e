import GnomonNetwork
import GnomonProtocol
import Synchronization

/// Whether tenants may call, remembered for a few seconds so a busy tenant does not cost a
/// database read per call.
///
/// A tenant disabled on one node is refused by every node within ``ttl``. A lookup that fails
/// (the database is unreachable) is not remembered: the call is refused with `UNAVAILABLE`
/// and the next call asks again.
final class TenantStateCache: TenantAdmission {
    /// What the database says about a tenant.
    enum State: Sendable, Equatable {
        case active
        case disabled(reason: String)
        case missing
    }

    /// How long an answer is reused.
    let ttl: Duration
    private let load: @Sendable (String) async throws -> State
    private let entries = Synchronization.Mutex<[String: (state: State, until: ContinuousClock.Instant)]>([:])
    private static let maximumEntries = 100_000

    /// - Parameters:
    ///   - ttl: How long an answer is reused.
    ///   - load: Reads a tenant's state from the database.
    init(ttl: Duration = .seconds(5), load: @escaping @Sendable (String) async throws -> State) {
        self.ttl = ttl
        self.load = load
    }

    func refusal(for tenantID: String) async -> CallStatus? {
        let now = ContinuousClock.now
        var state = self.entries.withLock { entries in
            entries[tenantID].flatMap { $0.until > now ? $0.state : nil }
        }
        if state == nil {
            do {
                let loaded = try await self.load(tenantID)
                state = loaded
                self.entries.withLock { entries in
                    if entries.count >= Self.maximumEntries {
                        entries.removeAll(keepingCapacity: true)
                    }
                    entries[tenantID] = (loaded, now + self.ttl)
                }
            } catch {
                return CallStatus(code: .unavailable, message: "cannot check tenant '\(tenantID)' now; try again")
            }
        }
        switch state {
        case .active, nil:
            return nil
        case .disabled(let reason):
            let why = reason.isEmpty ? "" : ": \(reason)"
            return CallStatus(code: .permissionDenied, message: "tenant '\(tenantID)' is disabled\(why)")
        case .missing:
            return CallStatus(
                code: .permissionDenied,
                message: "tenant '\(tenantID)' does not exist on this server; a platform admin creates tenants")
        }
    }

    /// Forgets what is remembered of a tenant, after this node changed it.
    func forget(_ tenantID: String) {
        _ = self.entries.withLock { $0.removeValue(forKey: tenantID) }
    }
}
