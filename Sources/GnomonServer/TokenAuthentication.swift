import Dispatch
import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol

/// Checks callers' tokens with the configured keys, and reloads the keys when their files
/// change or on SIGHUP, so keys can rotate without a restart.
///
/// With no keys configured every call is refused: the server fails closed.
final class TokenAuthentication: BearerAuthenticator, @unchecked Sendable {
    /// The issuer of the tokens `gnomond --dev` mints.
    static let developmentIssuer = DevelopmentSigningKey.issuer

    private let verifier: JWTVerifier?
    private let logger: Logger
    // Only cancelled, once, in `stop`.
    private var watcher: Task<Void, Never>?
    private var hangUp: (any DispatchSourceSignal)?

    /// Builds the verifier from the settings, adding the development key in development mode.
    ///
    /// - Throws: ``AuthenticationError`` when a configured key file cannot be used.
    init(settings: AuthSettings, developmentKey: DevelopmentSigningKey?, logger: Logger) throws {
        self.logger = logger
        var issuers = Set(settings.issuer.map { [$0] } ?? [])
        var keyFiles = settings.keyFiles.map { key in
            let algorithms = Set(key.algorithms.compactMap(JWTAlgorithm.init(rawValue:)))
            let isHMAC = algorithms.contains { $0.keyKind == .hmac }
            return JWTKeyFile(
                path: key.path, keyID: key.keyID, algorithms: algorithms,
                encoding: isHMAC ? .base64URLSecret : .pem)
        }
        for key in settings.keyFiles {
            if let unknown = key.algorithms.first(where: { JWTAlgorithm(rawValue: $0) == nil }) {
                throw AuthenticationError(
                    .invalidConfiguration,
                    "key '\(key.keyID)' names the algorithm '\(unknown)'; the algorithms are "
                        + JWTAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        if let developmentKey {
            issuers.insert(Self.developmentIssuer)
            keyFiles.append(developmentKey.keyFile(issuer: Self.developmentIssuer))
        }
        let jwks = settings.jwksFile.map { [JWKSFile(path: $0)] } ?? []
        guard !issuers.isEmpty, !keyFiles.isEmpty || !jwks.isEmpty else {
            logger.warning(
                "no token keys are configured: every call will be refused",
                ["hint": "give --auth-issuer with --auth-key or --auth-jwks, or run with --dev"])
            self.verifier = nil
            return
        }
        self.verifier = try JWTVerifier(
            configuration: JWTVerifierConfiguration(
                issuers: issuers,
                audience: settings.audience,
                keyFiles: keyFiles,
                jwksFiles: jwks,
                leeway: settings.leeway,
                principalMapping: PrincipalMapping(
                    subjectClaim: settings.subjectClaim, tenantClaim: settings.tenantClaim,
                    rolesClaim: settings.rolesClaim)))
    }

    func principal(forBearer token: String) throws(CallStatus) -> Principal {
        guard let verifier = self.verifier else {
            throw CallStatus(
                code: .unauthenticated,
                message: "this server has no token keys configured, so it accepts no calls; "
                    + "its operator must give --auth-issuer with --auth-key or --auth-jwks")
        }
        do {
            return try verifier.verify(token).principal
        } catch {
            throw CallStatus(code: .unauthenticated, message: error.message)
        }
    }

    /// Reloads the keys every five seconds when their files changed, and at once on SIGHUP.
    func startWatching() {
        guard self.verifier != nil else {
            return
        }
        self.watcher = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                self?.reload(force: false)
            }
        }
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [weak self] in self?.reload(force: true) }
        source.resume()
        self.hangUp = source
    }

    /// Stops watching the key files.
    func stop() {
        self.watcher?.cancel()
        self.hangUp?.cancel()
    }

    private func reload(force: Bool) {
        guard let verifier = self.verifier else {
            return
        }
        do {
            if force {
                try verifier.reload()
                self.logger.info("token keys reloaded", ["keys": verifier.keyIDs.joined(separator: ",")])
            } else if try verifier.reloadIfChanged() {
                self.logger.info("token keys reloaded", ["keys": verifier.keyIDs.joined(separator: ",")])
            }
        } catch {
            self.logger.warning("token keys not reloaded; the previous keys stay in use", [LogKey.error: error.message])
        }
    }
}
