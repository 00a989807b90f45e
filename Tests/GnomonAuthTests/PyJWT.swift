import Foundation
import GnomonStore
import Testing

/// Runs scripts/mint-test-tokens with the Python that scripts/install-deps sets up.
///
/// Never skipped: without PyJWT the tests that use it fail, naming the step that installs it.
enum PyJWT {
    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The Python with PyJWT: `GNOMON_TEST_PYTHON`, or the one scripts/install-deps makes in .build.
    static var python: String {
        ProcessInfo.processInfo.environment["GNOMON_TEST_PYTHON"] ?? Fixtures.packageRoot + "/.build/python/bin/python3"
    }

    /// Runs `scripts/mint-test-tokens` with `arguments`.
    static func run(_ arguments: [String]) async throws -> Outcome {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw Missing(description: "\(Self.python) is missing; run scripts/install-deps to install PyJWT")
        }
        let output = try OutputCapture()
        let errors = try OutputCapture()
        let child = try ChildProcess.spawn(
            [Self.python, Fixtures.packageRoot + "/scripts/mint-test-tokens"] + arguments,
            environment: ["LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"],
            directory: Fixtures.packageRoot,
            standardOutput: output.descriptor,
            standardError: errors.descriptor
        )
        let status = await child.waitForExit()
        return Outcome(status: status, output: output.contents(), errors: errors.contents())
    }

    /// Mints a token valid from now for five minutes.
    static func mint(key: String, algorithm: String, keyID: String) async throws -> String {
        let outcome = try await Self.run(["mint", key, algorithm, keyID, Fixtures.issuer, Fixtures.audience])
        try #require(outcome.status == 0, "mint-test-tokens failed: \(outcome.errors)")
        return outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Verifies a token with PyJWT, returning the header and claims it read.
    static func check(_ token: String, key: String, algorithm: String) async throws -> [String: Any] {
        let outcome = try await Self.run(["check", key, algorithm, Fixtures.issuer, Fixtures.audience, token])
        try #require(outcome.status == 0, "PyJWT refused the token: \(outcome.errors)")
        let data = Data(outcome.output.utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
