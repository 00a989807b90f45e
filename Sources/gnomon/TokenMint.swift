import Foundation
import GnomonAuth
import GnomonCore

/// `gnomon token mint`: signs a token from a key file, for any tenant and roles.
///
/// For development and for operators who hold a signing key; production tokens usually come
/// from an identity provider.
enum TokenMint {
    static let parser = OptionParser(
        commandName: "gnomon token mint",
        usage: "gnomon token mint [options]",
        purpose: "Signs a bearer token (a JWT) and prints it on standard output.",
        options: [
            .value(
                "key",
                valueName: "FILE",
                default: ".gnomon/dev/" + DevelopmentSigningKey.fileName,
                help: "The signing key: a PEM private key, or for HS256/384/512 a secret as base64url text."
            ),
            .value(
                "key-id",
                valueName: "KID",
                defaultDescription: "the development key's own id; none for other keys",
                help: "The kid the server knows the key by."
            ),
            .value(
                "algorithm",
                valueName: "ALG",
                default: "EdDSA",
                help: "EdDSA, ES256, RS256, PS256, HS256, HS384 or HS512; it must suit the key."
            ),
            .value("issuer", valueName: "ISS", default: DevelopmentSigningKey.issuer, help: "The iss claim."),
            .value("audience", valueName: "AUD", default: "gnomon", help: "The aud claim."),
            .value(
                "tenant",
                valueName: "TENANT",
                defaultDescription: "none, as a platform admin's token",
                help: "The tenant the token acts within."
            ),
            .value(
                "role",
                valueName: "ROLE",
                help: "admin, operator, viewer, worker or platform-admin; repeat for several."
            ),
            .value("subject", valueName: "SUB", default: "gnomon-cli", help: "Who the token speaks for."),
            .value(
                "ttl", valueName: "DURATION", default: "1h", help: "How long the token is valid, such as 15m or 24h."),
        ],
        examples: [
            OptionParser.Example(
                "A viewer token for tenant acme from the development key:",
                command: "gnomon token mint --tenant acme --role viewer"
            )
        ]
    )

    /// Runs the command; returns the exit status.
    static func run(_ arguments: [String]) -> Int32 {
        let values: OptionParser.Values
        do {
            switch try Self.parser.parse(arguments, environment: [:]) {
            case .helpRequested:
                print(Self.parser.helpText())
                return 0
            case .versionRequested:
                print("gnomon \(GnomonVersion.current)")
                return 0
            case .parsed(let parsed):
                values = parsed
            }
            let token = try Self.mint(values)
            print(token)
            return 0
        } catch let error as UsageError {
            printError("gnomon: \(error.message)")
            return 2
        } catch let error as AuthenticationError {
            printError("gnomon: \(error.message)")
            return 2
        } catch {
            printError("gnomon: \(error)")
            return 1
        }
    }

    private static func mint(_ values: OptionParser.Values) throws -> String {
        if let extra = values.positionals.first {
            throw UsageError(
                code: .unexpectedArgument, message: "unexpected argument '\(extra)'; see 'gnomon token mint --help'")
        }
        let algorithmName = values.string("algorithm") ?? "EdDSA"
        guard let algorithm = JWTAlgorithm(rawValue: algorithmName) else {
            throw values.invalidValue(
                "algorithm", expected: JWTAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))
        }
        var roles: Set<Role> = []
        for name in values.strings("role") {
            guard let role = Role(rawValue: name) else {
                throw UsageError(
                    code: .invalidValue,
                    message: "option '--role' expects admin, operator, viewer, worker or platform-admin, got '\(name)'",
                    option: "--role")
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else {
            throw UsageError(
                code: .missingValue, message: "give at least one --role, such as --role admin", option: "--role")
        }
        let tenant = try values.nonEmptyString("tenant")
        if tenant == nil && !roles.contains(.platformAdmin) {
            throw UsageError(
                code: .missingValue,
                message:
                    "a token without --tenant can only be a platform admin's; give --tenant or --role platform-admin",
                option: "--tenant")
        }
        guard let ttl = try values.duration("ttl"), ttl > .zero else {
            throw values.invalidValue("ttl", expected: "a positive duration such as 15m or 24h")
        }
        let keyPath = values.string("key") ?? ""
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw UsageError(
                code: .invalidValue,
                message: "no key file at '\(keyPath)'; run 'gnomond --dev' once to make the development key, "
                    + "or give --key",
                option: "--key")
        }
        let signer = try Self.signer(path: keyPath, keyID: values.string("key-id"), algorithm: algorithm)
        return try signer.sign(
            principal: Principal(tenantID: tenant, subject: values.string("subject") ?? "gnomon-cli", roles: roles),
            issuer: values.string("issuer") ?? DevelopmentSigningKey.issuer,
            audience: values.string("audience") ?? "gnomon",
            lifetime: ttl)
    }

    private static func signer(path: String, keyID: String?, algorithm: JWTAlgorithm) throws -> JWTSigner {
        if algorithm.keyKind == .hmac {
            let text =
                (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard let secret = Base64URL.decode(text) else {
                throw UsageError(
                    code: .invalidValue,
                    message: "the HMAC key file '\(path)' must hold the secret as base64url text",
                    option: "--key")
            }
            return try JWTSigner(algorithm: algorithm, keyID: keyID, secret: secret)
        }
        let url = URL(fileURLWithPath: path)
        if keyID == nil && url.lastPathComponent == DevelopmentSigningKey.fileName {
            // The development key: its id is derived from it, as the server derives it.
            return try DevelopmentSigningKey.loadOrCreate(in: url.deletingLastPathComponent().path).makeSigner()
        }
        return try JWTSigner(algorithm: algorithm, keyID: keyID, privateKeyFile: path)
    }
}
