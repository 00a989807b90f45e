import GnomonCore

/// How `gnomond` checks the bearer tokens of its callers.
public struct AuthSettings: Sendable, Equatable {
    /// One verification key from a PEM file (or, for HMAC, a secret file), with its `kid`
    /// and the algorithms it may verify.
    public struct KeyFile: Sendable, Equatable {
        public var keyID: String
        public var algorithms: [String]
        public var path: String

        /// Creates a key entry.
        public init(keyID: String, algorithms: [String], path: String) {
            self.keyID = keyID
            self.algorithms = algorithms
            self.path = path
        }
    }

    /// The `iss` every token must carry; `nil` only in development mode, which uses its own.
    public var issuer: String?
    /// The `aud` every token must include.
    public var audience = "gnomon"
    /// A JWKS file of verification keys.
    public var jwksFile: String?
    /// PEM or secret files of verification keys.
    public var keyFiles: [KeyFile] = []
    /// How far `exp`, `nbf` and `iat` may be off, for clocks that disagree.
    public var leeway = Duration.seconds(60)
    /// The claim naming the tenant.
    public var tenantClaim = "tenant"
    /// The claim listing the roles.
    public var rolesClaim = "roles"
    /// The claim naming the subject.
    public var subjectClaim = "sub"

    /// Settings that accept no token until keys are configured.
    public init() {}
}

extension ServerConfiguration {
    /// Reads the `--auth-*` options.
    mutating func readAuth(_ values: OptionParser.Values) throws(UsageError) {
        var auth = AuthSettings()
        auth.issuer = try values.nonEmptyString("auth-issuer")
        auth.audience = try values.nonEmptyString("auth-audience") ?? auth.audience
        auth.jwksFile = try values.nonEmptyString("auth-jwks")
        for text in values.strings("auth-key") {
            auth.keyFiles.append(try Self.keyFile(text, values: values))
        }
        auth.leeway = try values.duration("auth-leeway") ?? auth.leeway
        auth.tenantClaim = try values.nonEmptyString("auth-tenant-claim") ?? auth.tenantClaim
        auth.rolesClaim = try values.nonEmptyString("auth-roles-claim") ?? auth.rolesClaim
        auth.subjectClaim = try values.nonEmptyString("auth-subject-claim") ?? auth.subjectClaim
        self.auth = auth
    }

    /// Parses `KID:ALG[+ALG...]:PATH`.
    private static func keyFile(_ text: String, values: OptionParser.Values) throws(UsageError) -> AuthSettings.KeyFile
    {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let algorithms = parts.count == 3 ? parts[1].split(separator: "+").map(String.init) : []
        guard parts.count == 3, !parts[0].isEmpty, !algorithms.isEmpty, !parts[2].isEmpty else {
            throw UsageError(
                code: .invalidValue,
                message: "option '--auth-key' expects KID:ALGORITHMS:PATH, such as main:ES256:/etc/gnomon/jwt.pem "
                    + "or ci:HS256+HS512:/etc/gnomon/ci.secret; got '\(text)'",
                option: "--auth-key")
        }
        return AuthSettings.KeyFile(keyID: parts[0], algorithms: algorithms, path: parts[2])
    }

    /// The `--auth-*` options, for the help text and the parser.
    static var authOptions: [OptionParser.Option] {
        let defaults = AuthSettings()
        return [
            .value(
                "auth-issuer",
                valueName: "ISSUER",
                defaultDescription: "required; --dev uses its own",
                environment: "GNOMON_AUTH_ISSUER",
                help: "The iss claim every token must carry."
            ),
            .value(
                "auth-audience",
                valueName: "AUDIENCE",
                default: defaults.audience,
                environment: "GNOMON_AUTH_AUDIENCE",
                help: "The aud claim every token must include."
            ),
            .value(
                "auth-jwks",
                valueName: "FILE",
                environment: "GNOMON_AUTH_JWKS",
                help: "A JWKS file of verification keys; reloaded on SIGHUP and when it changes."
            ),
            .value(
                "auth-key",
                valueName: "KID:ALGS:PATH",
                environment: "GNOMON_AUTH_KEY",
                help: "A verification key: its kid, the algorithms it may verify joined by +, and a PEM public key "
                    + "or HMAC secret file. Repeat for several keys."
            ),
            .value(
                "auth-leeway",
                valueName: "DURATION",
                default: "60s",
                environment: "GNOMON_AUTH_LEEWAY",
                help: "How far exp, nbf and iat may be off, for clocks that disagree."
            ),
            .value(
                "auth-tenant-claim",
                valueName: "CLAIM",
                default: defaults.tenantClaim,
                environment: "GNOMON_AUTH_TENANT_CLAIM",
                help: "The claim naming the caller's tenant."
            ),
            .value(
                "auth-roles-claim",
                valueName: "CLAIM",
                default: defaults.rolesClaim,
                environment: "GNOMON_AUTH_ROLES_CLAIM",
                help: "The claim listing the caller's roles: admin, operator, viewer, worker, platform-admin."
            ),
            .value(
                "auth-subject-claim",
                valueName: "CLAIM",
                default: defaults.subjectClaim,
                environment: "GNOMON_AUTH_SUBJECT_CLAIM",
                help: "The claim naming the caller, as the audit log records it."
            ),
        ]
    }
}
