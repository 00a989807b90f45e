import GnomonNetwork
import GnomonProtocol

/// Workers that do nothing: lease streams that complete every job the moment it arrives.
///
/// Each stream is one `LeaseJobs` call on a connection of its own. A job counts as started
/// when its message comes off the stream, before it is decoded: that is when a real worker's
/// handler could begin. Its `CompleteAttempt` call goes out at once on the same connection,
/// without holding up the jobs behind it. A stream that ends is opened again after 100 ms, as
/// a worker would, and the failure is recorded.
final class NoOpWorkerPool: Sendable {
    /// How long a `CompleteAttempt` call may take.
    static let callTimeout: Duration = .seconds(30)

    private let tasks: [Task<Void, Never>]

    private init(tasks: [Task<Void, Never>]) {
        self.tasks = tasks
    }

    /// Opens one lease stream on each channel.
    ///
    /// - Parameters:
    ///   - channels: One channel per stream.
    ///   - queue: The queue every stream serves.
    ///   - capacity: The capacity each stream asks for.
    ///   - token: A worker token of the jobs' tenant.
    ///   - log: Where receipts and completions are recorded.
    ///   - clock: The time line receipts are stamped on.
    /// - Throws: ``ProtocolError`` when the request cannot be encoded.
    static func start(
        channels: [RPCChannel],
        queue: String,
        capacity: Int,
        token: String,
        log: ReceiptLog,
        clock: EngineClock
    ) throws -> NoOpWorkerPool {
        let metadata = V1.CallMetadata(authorization: "Bearer \(token)")
        let tasks = try channels.enumerated().map { index, channel in
            let request = try V1.LeaseJobsRequest(
                workerID: "bench-worker-\(index + 1)", queues: [queue], capacity: UInt32(capacity)
            ).serializedBytes()
            return Task {
                await Self.serve(channel: channel, request: request, metadata: metadata, log: log, clock: clock)
            }
        }
        return NoOpWorkerPool(tasks: tasks)
    }

    /// Cancels every stream and waits for their completions in flight to end.
    ///
    /// Jobs a stream had claimed but not yet delivered keep their attempt until its lease
    /// expires; each run has a queue of its own, so no later run sees them.
    func stop() async {
        for task in self.tasks {
            task.cancel()
        }
        for task in self.tasks {
            await task.value
        }
    }

    private static func serve(
        channel: RPCChannel,
        request: [UInt8],
        metadata: V1.CallMetadata,
        log: ReceiptLog,
        clock: EngineClock
    ) async {
        while !Task.isCancelled {
            let stream = channel.serverStreaming(.leaseJobs, payload: request, metadata: metadata)
            await withDiscardingTaskGroup { group in
                do {
                    for try await bytes in stream {
                        let time = clock.now
                        guard let message = try? V1.LeaseStreamMessage(serializedBytes: bytes),
                            case .leased(let leased) = message.event
                        else {
                            continue
                        }
                        let payload = BenchJobPayload(json: leased.job?.spec?.payloadJSON ?? [])
                        log.received(payload, at: time)
                        let completion = V1.CompleteAttemptRequest(
                            jobID: leased.job?.id ?? "", leaseToken: leased.leaseToken)
                        group.addTask {
                            await Self.complete(
                                completion, run: payload?.run, on: channel, metadata: metadata, log: log, clock: clock)
                        }
                    }
                    if !Task.isCancelled {
                        log.streamFailed("the server ended a lease stream with OK")
                    }
                } catch {
                    if !Task.isCancelled {
                        log.streamFailed("\(error)")
                    }
                }
            }
            if !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private static func complete(
        _ request: V1.CompleteAttemptRequest,
        run: Int?,
        on channel: RPCChannel,
        metadata: V1.CallMetadata,
        log: ReceiptLog,
        clock: EngineClock
    ) async {
        do {
            _ = try await channel.unary(
                .completeAttempt, payload: try request.serializedBytes(), metadata: metadata,
                deadline: .now + Self.callTimeout)
            if let run {
                log.completed(run: run, at: clock.now)
            }
        } catch {
            // A completion cut off by ``stop()`` is the benchmark's doing, not a failure.
            if !Task.isCancelled {
                log.completionFailed("\(error)")
            }
        }
    }
}
