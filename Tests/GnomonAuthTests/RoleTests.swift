import GnomonAuth
import Testing

@Suite("Roles")
struct RoleTests {
    @Test("each role's name in a token is its raw value")
    func names() {
        #expect(Role(rawValue: "platform-admin") == .platformAdmin)
        #expect(Set(Role.allCases.map(\.rawValue)) == ["admin", "operator", "viewer", "worker", "platform-admin"])
    }
}
