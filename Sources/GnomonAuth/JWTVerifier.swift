public import Foundation
import Synchronization

/// Verifies bearer tokens (compact JWS JWTs) against configured keys and maps them to principals.
///
/// One verifier serves every connection: it is thread-safe, and remembers verified tokens
/// until they expire, so a token presented on every call costs one signature check. Keys are
/// read when it is made and again on ``reload()`` or ``reloadIfChanged()``; a reload that
/// fails keeps the keys in use, and any reload that succeeds forgets every remembered token.
public final class JWTVerifier: Sendable {
    /// What the verifier accepts.
    public let configuration: JWTVerifierConfiguration

    private struct State: Sendable {
        var keys: JWTKeySet
        /// The fingerprint of the files last loaded or last tried, successfully or not.
        var fingerprint: [UInt8]
        /// Counts key reloads, so a verification that raced one does not cache its result.
        var generation: UInt64 = 0
        var cache: VerifiedTokenCache
    }

    private let state: Mutex<State>
    private let signatureCheckCount = Atomic<Int>(0)

    /// Reads the keys and makes a verifier.
    ///
    /// - Parameter configuration: What to accept, and where the keys are.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` for unusable
    ///   settings, or naming the first key file or key that cannot be used.
    public init(configuration: JWTVerifierConfiguration) throws(AuthenticationError) {
        try configuration.validate()
        let snapshot = KeyFileSnapshot(configuration: configuration)
        let keys = try JWTKeySet(snapshot: snapshot, configuration: configuration)
        self.configuration = configuration
        self.state = Mutex(
            State(
                keys: keys,
                fingerprint: snapshot.fingerprint,
                cache: VerifiedTokenCache(capacity: configuration.cacheCapacity)
            )
        )
    }

    /// Verifies a token and reads its principal.
    ///
    /// - Parameters:
    ///   - token: The compact JWS, without any `Bearer ` prefix.
    ///   - now: The current time; tests pass a fixed one.
    /// - Returns: The token's principal and claims.
    /// - Throws: ``AuthenticationError`` saying why the token is refused, without the token.
    public func verify(_ token: String, now: Date = Date()) throws(AuthenticationError) -> VerifiedToken {
        let bytes = Array(token.utf8)
        guard bytes.count <= self.configuration.maximumTokenBytes else {
            throw AuthenticationError(
                .tooLarge,
                "the token is \(bytes.count) bytes long; at most \(self.configuration.maximumTokenBytes) are accepted"
            )
        }
        let moment = NumericDate(timeIntervalSince1970: now.timeIntervalSince1970)
        let digest = VerifiedTokenCache.Digest(sha256: SHA256.hash(bytes))
        let (cached, keys, generation) = self.state.withLock { state in
            (digest.flatMap { state.cache.lookup($0) }, state.keys, state.generation)
        }
        if let cached {
            try self.checkTimes(cached.times, now: moment)
            return cached
        }

        let verified = try self.verifyUncached(bytes, keys: keys, now: moment)
        if let digest {
            self.state.withLock { state in
                if state.generation == generation {
                    state.cache.insert(verified, for: digest, now: moment)
                }
            }
        }
        return verified
    }

    /// Reads the key files again and uses their keys from now on.
    ///
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` when a file or key
    ///   cannot be used; the keys in use are then kept.
    public func reload() throws(AuthenticationError) {
        let snapshot = KeyFileSnapshot(configuration: self.configuration)
        self.state.withLock { $0.fingerprint = snapshot.fingerprint }
        try self.install(snapshot)
    }

    /// Reads the key files, and reloads only when their contents changed since the last reload.
    ///
    /// A change that fails to load is reported once; the next call reports nothing until the
    /// files change again, and the keys in use are kept meanwhile.
    ///
    /// - Returns: Whether the keys were replaced.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` when changed files
    ///   cannot be used.
    @discardableResult
    public func reloadIfChanged() throws(AuthenticationError) -> Bool {
        let snapshot = KeyFileSnapshot(configuration: self.configuration)
        let changed = self.state.withLock { state in
            guard state.fingerprint != snapshot.fingerprint else {
                return false
            }
            state.fingerprint = snapshot.fingerprint
            return true
        }
        guard changed else {
            return false
        }
        try self.install(snapshot)
        return true
    }

    private func install(_ snapshot: KeyFileSnapshot) throws(AuthenticationError) {
        let keys = try JWTKeySet(snapshot: snapshot, configuration: self.configuration)
        self.state.withLock { state in
            state.keys = keys
            state.generation += 1
            state.cache.removeAll()
        }
    }

    /// The `kid` of every key in use, sorted.
    public var keyIDs: [String] {
        self.state.withLock { $0.keys.keys.keys.sorted() }
    }

    /// A sentence for each JWKS key left out of the keys in use, because it is not for signatures.
    public var skippedKeys: [String] {
        self.state.withLock { $0.keys.skipped }
    }

    /// How many signatures this verifier has checked, for tests of the cache.
    var signatureChecks: Int {
        self.signatureCheckCount.load(ordering: .relaxed)
    }

    /// How many verified tokens are remembered, for tests of the cache.
    var cachedTokenCount: Int {
        self.state.withLock { $0.cache.count }
    }

    func countSignatureCheck() {
        self.signatureCheckCount.add(1, ordering: .relaxed)
    }
}

/// A token that passed every check: its principal, its claims, and the key that signed it.
public struct VerifiedToken: Sendable {
    /// Who the token speaks for.
    public var principal: Principal
    /// Every claim of the token, verified ones and others.
    public var claims: [String: JSONValue]
    /// The `kid` of the key whose signature verified.
    public var keyID: String
    /// The algorithm of the signature.
    public var algorithm: JWTAlgorithm
    /// The token's `exp`, `nbf` and `iat`, exact to the nanosecond.
    var times: JWTVerifier.TimeClaims

    /// When the token expires.
    public var expiresAt: Date {
        Date(timeIntervalSince1970: Double(self.times.expiry.seconds) + Double(self.times.expiry.nanoseconds) / 1e9)
    }
}
