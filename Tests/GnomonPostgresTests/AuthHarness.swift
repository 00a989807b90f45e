import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonServer
import GnomonTestSupport
import Synchronization
import Testing

/// A `gnomond` node in this process, on a test database, checking tokens signed by a key of
/// the test's own: calls go over real TLS on loopback to a real PostgreSQL.
final class AuthHarness: Sendable {
    static let issuer = "https://id.test.gnomon"
    let signer: JWTSigner
    let channel: RPCChannel
    let group: EventLoopGroup
    /// The node's database, for checking what calls wrote.
    let database: TestDatabase
    /// The node's settings, for starting more nodes of the same cluster.
    let configuration: ServerConfiguration
    let folder: String

    private init(
        signer: JWTSigner, channel: RPCChannel, group: EventLoopGroup, database: TestDatabase,
        configuration: ServerConfiguration, folder: String
    ) {
        self.database = database
        self.configuration = configuration
        self.folder = folder
        self.signer = signer
        self.channel = channel
        self.group = group
    }

    static func with(_ body: (AuthHarness) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let folder = try TestPostgres.makeTemporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let key = try DevelopmentSigningKey.loadOrCreate(in: folder + "/keys")
            var configuration = ServerConfiguration(
                dataDirectory: folder + "/data",
                databaseURL: database.connectionString,
                listenAddress: HostAndPort(host: "127.0.0.1", port: 0),
                nodeID: "node-a")
            configuration.auth.issuer = Self.issuer
            configuration.auth.keyFiles = [
                AuthSettings.KeyFile(keyID: key.keyID, algorithms: ["EdDSA"], path: key.path)
            ]
            let node = ServerNode(configuration: configuration, workingDirectory: folder, logger: .disabled)
            _ = try await node.start()
            let port = try #require(await node.rpcPort)
            let group = try EventLoopGroup(threads: 1)
            let tls = try TLSClientContext(configuration: TLSConfiguration(caFile: folder + "/data/tls/ca.pem"))
            let channel = RPCChannel(
                configuration: RPCChannel.Configuration(host: "127.0.0.1", port: port), tls: tls, group: group)
            let harness = AuthHarness(
                signer: try key.makeSigner(), channel: channel, group: group, database: database,
                configuration: configuration, folder: folder)
            do {
                try await body(harness)
            } catch {
                await harness.close()
                try await node.stop()
                throw error
            }
            await harness.close()
            try await node.stop()
        }
    }

    /// Runs `body` while a second node, `node-b`, serves the same database, then stops it.
    func withSecondNode(_ body: (ServerNode) async throws -> Void) async throws {
        var configuration = self.configuration
        configuration.nodeID = "node-b"
        configuration.dataDirectory = self.folder + "/data-b"
        let node = ServerNode(configuration: configuration, workingDirectory: self.folder, logger: .disabled)
        _ = try await node.start()
        do {
            try await body(node)
        } catch {
            try await node.stop()
            throw error
        }
        try await node.stop()
    }

    func close() async {
        self.channel.close()
        await self.group.shutdown()
    }

    /// A token for `tenant` with `roles`, valid for an hour unless told otherwise.
    func token(
        _ tenant: String?,
        _ roles: Set<Role>,
        subject: String = "tester",
        audience: String = "gnomon",
        lifetime: Duration = .seconds(3_600),
        issuedAt: Date = Date()
    ) throws -> String {
        try self.signer.sign(
            principal: Principal(tenantID: tenant, subject: subject, roles: roles),
            issuer: Self.issuer, audience: audience, lifetime: lifetime, now: issuedAt)
    }

    /// Calls `method` with `token`; the status of a refusal is thrown.
    func call<Response: ProtoMessage>(
        _ method: MethodDescriptor,
        _ request: some ProtoMessage,
        token: String?,
        tenantHeader: String = "",
        as type: Response.Type = Response.self
    ) async throws -> Response {
        try await self.channel.call(method, request, token: token, tenantHeader: tenantHeader)
    }

    /// The status a call ends with: OK, or the refusal.
    func status(
        _ method: MethodDescriptor,
        _ request: some ProtoMessage = V1.GetServerStatusRequest(),
        token: String?,
        tenantHeader: String = ""
    ) async -> CallStatus {
        await self.channel.status(method, request, token: token, tenantHeader: tenantHeader)
    }

    /// Creates tenants as a platform admin.
    func createTenants(_ ids: String...) async throws {
        let platform = try self.token(nil, [.platformAdmin])
        for id in ids {
            let created: V1.CreateTenantResponse = try await self.call(
                .createTenant, V1.CreateTenantRequest(tenantID: id, displayName: id.capitalized), token: platform)
            #expect(created.tenant?.id == id)
        }
    }
}

extension AuthHarness {
    /// Opens a lease stream; its messages arrive in `received` as they come.
    func leaseStream(token: String, queues: [String], capacity: UInt32, worker: String = "w1") throws -> LeaseStream {
        try self.channel.leaseStream(token: token, queues: queues, capacity: capacity, worker: worker)
    }
}

/// What a lease stream delivered, and how it ended.
final class LeaseLog: Sendable {
    let received = Synchronization.Mutex<[V1.LeasedJob]>([])
    let revoked = Synchronization.Mutex<[V1.LeaseRevoked]>([])
    let ended = Synchronization.Mutex<CallStatus?>(nil)
}

/// A worker's lease stream, read in the background into a list the test can look at.
final class LeaseStream: Sendable {
    let log = LeaseLog()
    private let reader: Task<Void, Never>

    init(_ stream: AsyncThrowingStream<[UInt8], any Error>) {
        let log = self.log
        self.reader = Task {
            do {
                for try await bytes in stream {
                    switch try V1.LeaseStreamMessage(serializedBytes: bytes).event {
                    case .leased(let job):
                        log.received.withLock { $0.append(job) }
                    case .revoked(let revoked):
                        log.revoked.withLock { $0.append(revoked) }
                    case nil:
                        break
                    }
                }
                log.ended.withLock { $0 = CallStatus(code: .ok) }
            } catch {
                log.ended.withLock { $0 = (error as? CallStatus) ?? CallStatus(code: .unknown, message: "\(error)") }
            }
        }
    }

    var jobs: [V1.LeasedJob] { self.log.received.withLock { $0 } }

    /// The revocations the stream received, in order.
    var revocations: [V1.LeaseRevoked] { self.log.revoked.withLock { $0 } }

    /// How the stream ended, if it has.
    var endStatus: CallStatus? { self.log.ended.withLock { $0 } }

    /// Waits up to `timeout` for at least `count` leased jobs.
    func waitFor(_ count: Int, within timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.jobs.count >= count {
                return true
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return self.jobs.count >= count
    }

    func cancel() {
        self.reader.cancel()
    }
}
