public import Foundation

/// How an audited call ended.
public enum AuditOutcome: String, Sendable, Hashable, CaseIterable {
    case succeeded
    /// Refused by authentication, permissions or quotas.
    case denied
    /// Allowed, but failed.
    case failed
}

/// Who did what to which resource, and how it ended: one call, as the server saw it.
///
/// Text fields longer than their limit are cut to it when appended, and NUL characters are
/// replaced, so that a client's odd request id can never make recording its call fail.
public struct AuditRecord: Sendable, Hashable {
    /// The tenant acted for; `nil` for platform administration and for calls that named no
    /// valid tenant, which only platform administrators see.
    public var tenantID: String?
    /// The token's subject, or `anonymous` for a call without a valid token.
    public var actor: String
    /// The roles the token granted.
    public var roles: [String]
    /// The method called, such as `gnomon.v1.JobService/CancelJob`.
    public var method: String
    /// The kind of resource acted on, such as `job`; empty when none.
    public var resourceType: String
    /// The resource's id; empty when none.
    public var resourceID: String
    public var outcome: AuditOutcome
    /// The status code the call ended with; 0 for OK.
    public var statusCode: Int
    public var requestID: String
    public var clientAddress: String

    /// Creates a record.
    public init(
        tenantID: String?,
        actor: String,
        roles: [String] = [],
        method: String,
        resourceType: String = "",
        resourceID: String = "",
        outcome: AuditOutcome,
        statusCode: Int,
        requestID: String = "",
        clientAddress: String = ""
    ) {
        self.tenantID = tenantID
        self.actor = actor
        self.roles = roles
        self.method = method
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.outcome = outcome
        self.statusCode = statusCode
        self.requestID = requestID
        self.clientAddress = clientAddress
    }

    /// The longest text kept in each field, in characters; longer text is cut.
    public enum Limit {
        public static let actor = 256
        public static let role = 64
        public static let roleCount = 32
        public static let method = 256
        public static let resourceType = 64
        public static let resourceID = 512
        public static let requestID = 128
        public static let clientAddress = 128
    }

    /// This record as it is stored: every field cut to its limit and free of NUL characters.
    public var sanitized: AuditRecord {
        func clean(_ text: String, _ limit: Int) -> String {
            String(text.replacingOccurrences(of: "\0", with: "\u{FFFD}").prefix(limit))
        }
        var record = self
        record.actor = clean(self.actor, Limit.actor)
        record.roles = self.roles.prefix(Limit.roleCount).map { clean($0, Limit.role) }
        record.method = clean(self.method, Limit.method)
        record.resourceType = clean(self.resourceType, Limit.resourceType)
        record.resourceID = clean(self.resourceID, Limit.resourceID)
        record.requestID = clean(self.requestID, Limit.requestID)
        record.clientAddress = clean(self.clientAddress, Limit.clientAddress)
        return record
    }
}

/// A stored audit record, with the id and time the store gave it.
public struct AuditEntry: Sendable, Hashable {
    public var id: UUID
    /// When it was appended, on the database's clock, to the microsecond.
    public var at: Date
    public var record: AuditRecord
    /// Where a page ending with this entry continues.
    public var cursor: AuditCursor

    /// Creates an entry; the store builds these from rows.
    public init(id: UUID, at: Date, record: AuditRecord, cursor: AuditCursor) {
        self.id = id
        self.at = at
        self.record = record
        self.cursor = cursor
    }
}

/// A position in the audit log's newest-first order: an entry's time and id.
///
/// Its ``token`` is the page token a client passes back; a token it altered names some other
/// position, never another tenant's records, which row-level security hides.
public struct AuditCursor: Sendable, Hashable {
    /// The entry's time in whole microseconds since the Unix epoch, exact.
    public var atMicroseconds: Int64
    public var id: UUID

    /// Creates a cursor at an entry.
    public init(atMicroseconds: Int64, id: UUID) {
        self.atMicroseconds = atMicroseconds
        self.id = id
    }

    /// Reads a cursor from its ``token``; `nil` for text that is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
            return nil
        }
        self.init(atMicroseconds: micros, id: id)
    }

    /// The cursor as a page token: the microseconds, a dot, and the id.
    public var token: String {
        "\(self.atMicroseconds).\(self.id.uuidString.lowercased())"
    }
}

/// Which audit records to list; every condition left `nil` matches all.
public struct AuditFilter: Sendable, Hashable {
    /// Only this tenant's records. Tenant transactions see only their own tenant's anyway.
    public var tenantID: String?
    public var actor: String?
    public var method: String?
    public var outcome: AuditOutcome?
    public var resourceID: String?
    /// Only records at or after this instant.
    public var from: Date?
    /// Only records before this instant.
    public var before: Date?

    /// Creates a filter.
    public init(
        tenantID: String? = nil,
        actor: String? = nil,
        method: String? = nil,
        outcome: AuditOutcome? = nil,
        resourceID: String? = nil,
        from: Date? = nil,
        before: Date? = nil
    ) {
        self.tenantID = tenantID
        self.actor = actor
        self.method = method
        self.outcome = outcome
        self.resourceID = resourceID
        self.from = from
        self.before = before
    }
}
