import GnomonAuth
import Testing

@Suite("Page cursors")
struct PageCursorTests {
    let sealer = PageCursorSealer(key: Array(repeating: 7, count: 32))

    @Test("a cursor opens to its position for the same listing and tenant")
    func roundTrip() throws {
        for position in [[], [1, 2, 3], Array(repeating: 0xFF, count: 200)] as [[UInt8]] {
            let cursor = self.sealer.seal(position, scope: "ListAuditRecords", tenantID: "acme")
            #expect(try self.sealer.open(cursor, scope: "ListAuditRecords", tenantID: "acme") == position)
            #expect(!cursor.contains("=") && !cursor.contains("+") && !cursor.contains("/"))
        }
    }

    @Test("a cursor is refused for another tenant, another listing, or no tenant")
    func boundToTenantAndScope() {
        let cursor = self.sealer.seal([9, 9], scope: "ListAuditRecords", tenantID: "acme")
        #expect(throws: PageCursorSealer.InvalidCursor.self) {
            try self.sealer.open(cursor, scope: "ListAuditRecords", tenantID: "globex")
        }
        #expect(throws: PageCursorSealer.InvalidCursor.self) {
            try self.sealer.open(cursor, scope: "ListTenants", tenantID: "acme")
        }
        #expect(throws: PageCursorSealer.InvalidCursor.self) {
            try self.sealer.open(cursor, scope: "ListAuditRecords", tenantID: nil)
        }
    }

    @Test("a cursor sealed under another key is refused")
    func otherKey() {
        let other = PageCursorSealer(key: Array(repeating: 8, count: 32))
        let cursor = other.seal([1], scope: "s", tenantID: "acme")
        #expect(throws: PageCursorSealer.InvalidCursor.self) {
            try self.sealer.open(cursor, scope: "s", tenantID: "acme")
        }
    }

    @Test("every single-character change to a cursor is refused, with a message that does not echo it")
    func tampering() throws {
        let cursor = self.sealer.seal([1, 2, 3, 4], scope: "s", tenantID: "acme")
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var characters = Array(cursor)
        for index in characters.indices {
            let original = characters[index]
            characters[index] = alphabet.first { $0 != original }!
            let tampered = String(characters)
            let error = #expect(throws: PageCursorSealer.InvalidCursor.self) {
                try self.sealer.open(tampered, scope: "s", tenantID: "acme")
            }
            #expect(error?.message.contains(tampered) == false)
            characters[index] = original
        }
    }

    @Test("malformed cursors are refused: empty, padded, foreign characters, too short, too long")
    func malformed() {
        let valid = self.sealer.seal([1], scope: "s", tenantID: "t")
        for cursor in ["", valid + "=", "a+b/", "AAAA", String(repeating: "A", count: 2_000), valid.dropLast() + "!"] {
            let error = #expect(throws: PageCursorSealer.InvalidCursor.self) {
                try self.sealer.open(String(cursor), scope: "s", tenantID: "t")
            }
            #expect(error?.message.contains("page token") == true)
        }
    }
}
