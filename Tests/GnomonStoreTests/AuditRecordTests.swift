import Foundation
import GnomonStore
import Testing

@Suite("Audit records")
struct AuditRecordTests {
    @Test("a cursor's token reads back as the same cursor; other text is no cursor")
    func cursorToken() throws {
        let cursor = AuditCursor(atMicroseconds: 1_796_000_000_123_456, id: UUID())
        #expect(AuditCursor(token: cursor.token) == cursor)
        for bad in ["", "1.2", "abc.\(UUID())", "12", "1.\(UUID()).3"] {
            #expect(AuditCursor(token: bad) == nil, "\(bad)")
        }
    }

    @Test("sanitizing cuts each field to its limit and replaces NUL characters")
    func sanitized() {
        let long = String(repeating: "x", count: 5_000)
        let record = AuditRecord(
            tenantID: "acme",
            actor: long,
            roles: Array(repeating: long, count: 40),
            method: "a\0b",
            resourceID: long,
            outcome: .denied,
            statusCode: 7,
            requestID: long,
            clientAddress: long
        ).sanitized
        #expect(record.actor.count == AuditRecord.Limit.actor)
        #expect(record.roles.count == AuditRecord.Limit.roleCount)
        #expect(record.roles.allSatisfy { $0.count == AuditRecord.Limit.role })
        #expect(record.method == "a\u{FFFD}b")
        #expect(record.resourceID.count == AuditRecord.Limit.resourceID)
        #expect(record.requestID.count == AuditRecord.Limit.requestID)
        #expect(record.clientAddress.count == AuditRecord.Limit.clientAddress)
        #expect(record.tenantID == "acme")
    }
}
