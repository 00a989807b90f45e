import Foundation
import Glibc
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// One `gnomond` process of a ``GnomondCluster``, and a TLS channel to it.
final class GnomondNode: Sendable {
    /// The node's id, also the end of its connections' `application_name`.
    let name: String
    let process: GnomondProcess
    let endpoint: Endpoint

    /// Where the node listens, and a channel to it.
    struct Endpoint: Sendable {
        var port: UInt16
        /// The authority of the node's development certificate.
        var caFile: String
        var channel: RPCChannel
    }

    init(name: String, process: GnomondProcess, endpoint: Endpoint) {
        self.name = name
        self.process = process
        self.endpoint = endpoint
    }

    var channel: RPCChannel {
        self.endpoint.channel
    }

    /// The `application_name` of every connection the node makes to PostgreSQL.
    static func applicationName(_ node: String) -> String {
        "gnomond-\(node)"
    }

    /// The node's log records about shard leases, in order.
    var leaseRecords: [[String: String]] {
        let messages: Set = ["shard lease gained", "shard lease lost", "shard lease given up"]
        return self.process.logRecords.filter { messages.contains($0["message"] ?? "") }
    }

    /// Whether the process has not exited; a stopped process has not.
    var isAlive: Bool {
        Self.isRunning(self.process)
    }

    /// Whether `process` has not exited, read from `/proc` so that the process is not reaped.
    static func isRunning(_ process: GnomondProcess) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.child.pid)/stat", encoding: .utf8),
            let nameEnd = stat.lastIndex(of: ")"),
            let state = stat[nameEnd...].dropFirst(2).first
        else {
            return false
        }
        return state != "Z" && state != "X"
    }

    /// Waits until every thread of the process has stopped, after SIGSTOP, so that nothing it
    /// writes later can predate the stop.
    func waitUntilStopped() async throws {
        let pid = self.process.child.pid
        try await eventually(within: .seconds(10), "\(self.name) stopped") {
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !threads.isEmpty
                && threads.allSatisfy { thread in
                    let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/stat", encoding: .utf8)) ?? ""
                    let state = stat.lastIndex(of: ")").flatMap { stat[$0...].dropFirst(2).first }
                    return state == "T" || state == "t"
                }
        }
    }
}

/// Real `gnomond` processes sharing one database, reached over TLS with tokens signed by a key
/// of the test's own, which every node is configured to trust.
final class GnomondCluster: Sendable {
    static let issuer = "https://id.test.gnomon"

    let database: TestDatabase
    let leaseTTL: Duration
    private let signer: JWTSigner
    private let keyOption: String
    private let folder: String
    private let extraArguments: [String]
    private let group: EventLoopGroup
    private let processes = Synchronization.Mutex<[String: GnomondProcess]>([:])
    private let endpoints = Synchronization.Mutex<[String: GnomondNode.Endpoint]>([:])

    private init(
        database: TestDatabase, leaseTTL: Duration, extraArguments: [String], folder: String, group: EventLoopGroup
    ) throws {
        let key = try DevelopmentSigningKey.loadOrCreate(in: folder + "/keys")
        self.database = database
        self.leaseTTL = leaseTTL
        self.signer = try key.makeSigner()
        // Attached with '=' when passed: the key id is base64url and may start with '-'.
        self.keyOption = "\(key.keyID):EdDSA:\(key.path)"
        self.folder = folder
        self.extraArguments = extraArguments
        self.group = group
    }

    /// Starts a node named after each of `names` on `database`, runs `body`, then stops every
    /// node still running (continuing stopped ones first) even if `body` throws.
    ///
    /// - Parameter extraArguments: More options for every node, such as `--misfire-threshold`.
    static func with(
        database: TestDatabase,
        nodes names: [String],
        leaseTTL: Duration = .seconds(2),
        extraArguments: [String] = [],
        _ body: (GnomondCluster) async throws -> Void
    ) async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let group = try EventLoopGroup(threads: 1)
        let cluster = try GnomondCluster(
            database: database, leaseTTL: leaseTTL, extraArguments: extraArguments, folder: folder, group: group)
        do {
            try await cluster.start(names)
            try await body(cluster)
        } catch {
            await cluster.shutdown()
            await group.shutdown()
            throw error
        }
        await cluster.shutdown()
        await group.shutdown()
    }

    /// The node named `name`.
    func node(_ name: String) -> GnomondNode {
        GnomondNode(
            name: name, process: self.processes.withLock { $0[name]! }, endpoint: self.endpoints.withLock { $0[name]! })
    }

    /// A token for `tenant` with `roles`, valid for an hour.
    func token(_ tenant: String?, _ roles: Set<Role>, subject: String = "tester") throws -> String {
        try self.signer.sign(
            principal: Principal(tenantID: tenant, subject: subject, roles: roles),
            issuer: Self.issuer, audience: "gnomon", lifetime: .seconds(3_600), now: Date())
    }

    /// Creates a tenant through the first node, as a platform admin.
    func createTenant(_ id: String, through node: String) async throws {
        let created: V1.CreateTenantResponse = try await self.node(node).channel.call(
            .createTenant, V1.CreateTenantRequest(tenantID: id, displayName: id.capitalized),
            token: try self.token(nil, [.platformAdmin]))
        #expect(created.tenant?.id == id)
    }

    /// Limits the jobs `id` may run at once, through one node.
    func setMaxConcurrentRuns(_ id: String, _ limit: UInt32, through node: String) async throws {
        let set: V1.SetQuotasResponse = try await self.node(node).channel.call(
            .setQuotas,
            V1.SetQuotasRequest(
                tenantID: id, quotas: V1.Quotas(maxConcurrentRuns: limit), updateMask: ["max_concurrent_runs"]),
            token: try self.token(nil, [.platformAdmin]))
        #expect(set.quotas?.maxConcurrentRuns == limit)
    }

    /// Starts nodes that exited (killed or stopped) again, under the same names and data
    /// folders, and waits until each is ready; their channels are new.
    func restart(_ names: [String]) async throws {
        for name in names {
            let old = self.endpoints.withLock { $0.removeValue(forKey: name) }
            old?.channel.close()
        }
        try await self.start(names)
    }

    /// Starts the nodes at once, then waits until each is ready.
    private func start(_ names: [String]) async throws {
        for name in names {
            let nodeFolder = self.folder + "/" + name
            try FileManager.default.createDirectory(atPath: nodeFolder, withIntermediateDirectories: true)
            let url = self.database.connectionString + " application_name=" + GnomondNode.applicationName(name)
            let process = try GnomondProcess(
                arguments: [
                    "--database-url", url, "--node-id", name, "--lease-ttl", "\(self.leaseTTL.wholeMilliseconds)ms",
                    "--auth-issuer", Self.issuer, "--auth-key=\(self.keyOption)", "--shutdown-timeout", "5s",
                ] + self.extraArguments,
                directory: nodeFolder)
            self.processes.withLock { $0[name] = process }
        }
        for name in names {
            let process = self.processes.withLock { $0[name]! }
            let listening = try await process.waitForLog("listening")
            let address = try #require(listening["address"])
            let port = try #require(address.split(separator: ":").last.flatMap { UInt16($0) })
            let caFile = try #require(listening["ca_file"])
            let channel = RPCChannel(
                configuration: RPCChannel.Configuration(
                    host: "127.0.0.1", port: port, initialReconnectDelay: .milliseconds(50),
                    maximumReconnectDelay: .seconds(1)),
                tls: try TLSClientContext(configuration: TLSConfiguration(caFile: caFile)), group: self.group)
            self.endpoints.withLock { $0[name] = GnomondNode.Endpoint(port: port, caFile: caFile, channel: channel) }
            _ = try await process.waitForLog("gnomond ready")
        }
    }

    /// Closes every channel and stops every node that still runs, killing those that hang.
    private func shutdown() async {
        for endpoint in self.endpoints.withLock({ Array($0.values) }) {
            endpoint.channel.close()
        }
        let processes = self.processes.withLock { Array($0.values) }
        for process in processes where GnomondNode.isRunning(process) {
            process.child.send(SIGCONT)
            process.child.send(SIGTERM)
        }
        for process in processes {
            _ = try? await process.waitForExit(timeout: .seconds(20))
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
