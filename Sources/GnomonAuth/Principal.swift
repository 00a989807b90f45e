/// Who a verified token speaks for: a subject, its tenant, and what it may do there.
public struct Principal: Sendable, Hashable {
    /// The tenant the principal acts within; `nil` only for a platform admin.
    public var tenantID: String?
    /// The subject, such as a user or service account name, from the token's subject claim.
    public var subject: String
    /// The roles the token grants that Gnomon knows; names it does not know are left out.
    public var roles: Set<Role>

    /// Creates a principal.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant, or `nil` for a platform admin acting across tenants.
    ///   - subject: Who the principal is.
    ///   - roles: What the principal may do.
    public init(tenantID: String?, subject: String, roles: Set<Role>) {
        self.tenantID = tenantID
        self.subject = subject
        self.roles = roles
    }

    /// Whether the principal may administer the whole platform, across tenants.
    public var isPlatformAdmin: Bool {
        self.roles.contains(.platformAdmin)
    }

    /// Whether `text` is a tenant id: 1 to 63 of `a-z`, `0-9` and `-`, starting with a letter.
    ///
    /// The same rule as the database's `gnomon_tenant_id` domain, so a token can never name a
    /// tenant the store would refuse.
    public static func isValidTenantID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, (1...63).contains(bytes.count),
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
        else {
            return false
        }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }
}
