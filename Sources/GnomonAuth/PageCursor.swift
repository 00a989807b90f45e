import COpenSSL
public import Foundation

/// Seals pagination cursors so a client can hand them back but not forge or move them.
///
/// A cursor carries the position of the last row a page returned. It is bound to the tenant
/// and the listing it came from, and signed with HMAC-SHA256 under a key every node of the
/// cluster shares, so a cursor from one node works on another, a cursor edited by hand is
/// refused, and a cursor from tenant A's listing is refused on tenant B's.
public struct PageCursorSealer: Sendable {
    /// What went wrong opening a cursor, for an `INVALID_ARGUMENT` answer.
    public struct InvalidCursor: Error, Sendable, Equatable {
        /// Names the problem without echoing the cursor.
        public let message: String
    }

    private static let version: UInt8 = 1
    private static let tagLength = 16
    private let key: [UInt8]

    /// Creates a sealer with a key of at least 32 bytes shared by the cluster's nodes.
    public init(key: [UInt8]) {
        precondition(key.count >= 32, "a cursor key needs at least 32 bytes")
        self.key = key
    }

    /// Seals `position` for `tenantID`'s listing named `scope`, such as `ListAuditRecords`.
    public func seal(_ position: [UInt8], scope: String, tenantID: String?) -> String {
        var sealed = [Self.version] + position
        sealed += self.tag(for: position, scope: scope, tenantID: tenantID)
        return Base64URL.encode(sealed)
    }

    /// The position sealed in `cursor`, if it was sealed by this cluster for this listing and tenant.
    public func open(_ cursor: String, scope: String, tenantID: String?) throws(InvalidCursor) -> [UInt8] {
        guard cursor.utf8.count <= 1_024, let bytes = Base64URL.decode(cursor),
            bytes.count >= 1 + Self.tagLength, bytes[0] == Self.version
        else {
            throw InvalidCursor(
                message: "the page token is malformed; pass back the next_page_token of a previous page")
        }
        let position = Array(bytes[1..<(bytes.count - Self.tagLength)])
        let tag = Array(bytes.suffix(Self.tagLength))
        guard Self.constantTimeEqual(tag, self.tag(for: position, scope: scope, tenantID: tenantID)) else {
            throw InvalidCursor(
                message: "the page token was not issued for this listing and tenant, or was altered; "
                    + "start again without one")
        }
        return position
    }

    private func tag(for position: [UInt8], scope: String, tenantID: String?) -> [UInt8] {
        // Length-prefixed fields, so no two (scope, tenant, position) triples sign the same bytes.
        var message: [UInt8] = []
        for field in [Array(scope.utf8), Array((tenantID ?? "").utf8), position] {
            withUnsafeBytes(of: UInt32(field.count).bigEndian) { message += $0 }
            message += field
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(EVP_sha256(), self.key, Int32(self.key.count), message, message.count, &digest, &length)
        return Array(digest.prefix(Self.tagLength))
    }

    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else {
            return false
        }
        return zip(lhs, rhs).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
