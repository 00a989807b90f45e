import Foundation
import GnomonAuth
import GnomonCore
import GnomonStore

/// What `gnomond --dev` makes so that a developer can call it at once: a signing key, a
/// `default` tenant, and an admin and a platform-admin token, each in a file of its own.
struct DevelopmentCredentials: Sendable {
    /// The tenant a development server creates.
    static let tenantID = "default"
    /// How long the development tokens stay valid.
    static let lifetime = Duration.seconds(30 * 24 * 3_600)

    /// The folder holding the key and the tokens.
    let folder: String
    let key: DevelopmentSigningKey

    /// The admin token's file: `<data>/dev/admin.token`.
    var adminTokenFile: String { self.folder + "/admin.token" }
    /// The platform-admin token's file: `<data>/dev/platform-admin.token`.
    var platformAdminTokenFile: String { self.folder + "/platform-admin.token" }

    /// Loads or makes the signing key in `<dataDirectory>/dev`.
    static func prepare(dataDirectory: String) throws -> DevelopmentCredentials {
        let folder = dataDirectory + "/dev"
        return DevelopmentCredentials(folder: folder, key: try DevelopmentSigningKey.loadOrCreate(in: folder))
    }

    /// Creates the `default` tenant if it is missing, and writes fresh tokens to their files.
    ///
    /// - Returns: The admin token and the platform-admin token.
    func issue(pool: PostgresPool, audience: String) async throws -> (admin: String, platformAdmin: String) {
        do {
            _ = try await pool.withPlatformTransaction { connection in
                try TenantStore.create(tenantID: Self.tenantID, displayName: "Development", on: connection)
            }
        } catch let error as StoreError where error.code == .alreadyExists {
            // Made by an earlier run.
        }
        let signer = try self.key.makeSigner()
        let admin = try signer.sign(
            principal: Principal(tenantID: Self.tenantID, subject: "dev-admin", roles: [.admin]),
            issuer: TokenAuthentication.developmentIssuer, audience: audience, lifetime: Self.lifetime)
        let platformAdmin = try signer.sign(
            principal: Principal(tenantID: nil, subject: "dev-platform-admin", roles: [.platformAdmin]),
            issuer: TokenAuthentication.developmentIssuer, audience: audience, lifetime: Self.lifetime)
        try Self.writePrivately(admin, to: self.adminTokenFile)
        try Self.writePrivately(platformAdmin, to: self.platformAdminTokenFile)
        return (admin, platformAdmin)
    }

    /// Writes `text` to a file only its owner can read, replacing it whole.
    private static func writePrivately(_ text: String, to path: String) throws {
        let temporary = path + ".new"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
