import Foundation
import GnomonStore
import Testing

/// Runs scripts/cron-reference, croniter and zoneinfo, with the Python scripts/install-deps sets up.
///
/// Never skipped: without croniter the tests that use it fail, naming the step that installs it.
enum Croniter {
    /// One expression to compute the fires of, from `start`, in `zone`.
    struct Case: Codable {
        var expression: String
        var zone: String
        var start: Int64
        var count: Int
    }

    /// The reference's fires for one case, as seconds since the Unix epoch.
    struct Answer: Decodable {
        /// Fires by each policy's definition, keyed `gap/overlap` by the policies' raw values.
        var policies: [String: [Int64]]?
        /// Fires from croniter's own handling of daylight saving time.
        var croniter: [Int64]?
        /// The daylight-saving cases the first fires ran into: `gap`, `twice`.
        var situations: [String]?
        /// Whether croniter reads the hour field as matching every hour.
        var everyHour: Bool?
        /// Why croniter refused the expression.
        var error: String?

        enum CodingKeys: String, CodingKey {
            case policies, croniter, situations, error
            case everyHour = "every_hour"
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// The package's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The Python with croniter: `GNOMON_TEST_PYTHON`, or the one scripts/install-deps makes in .build.
    static var python: String {
        ProcessInfo.processInfo.environment["GNOMON_TEST_PYTHON"] ?? Self.packageRoot + "/.build/python/bin/python3"
    }

    /// Computes every case's fires with the reference, in one child process.
    static func answers(_ cases: [Case]) async throws -> [Answer] {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw Missing(description: "\(Self.python) is missing; run scripts/install-deps to install croniter")
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("gnomon-cron-\(UUID()).json")
        try JSONEncoder().encode(["cases": cases]).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }

        let output = try OutputCapture()
        let errors = try OutputCapture()
        let child = try ChildProcess.spawn(
            [Self.python, Self.packageRoot + "/scripts/cron-reference", input.path],
            environment: ["LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"],
            directory: Self.packageRoot,
            standardOutput: output.descriptor,
            standardError: errors.descriptor
        )
        let status = await child.waitForExit()
        guard status == 0 else {
            throw Failed(description: "cron-reference exited with \(status): \(errors.contents())")
        }
        struct Document: Decodable {
            var answers: [Answer]
        }
        return try JSONDecoder().decode(Document.self, from: Data(output.contents().utf8)).answers
    }
}
