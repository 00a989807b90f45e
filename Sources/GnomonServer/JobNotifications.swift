import CGnomonShims
import Foundation
import GnomonCore
import GnomonStore
import Synchronization

/// Wakes the node's lease streams when jobs of their queues may have become claimable, or
/// when a job they pushed to their worker was cancelled.
///
/// Submissions send `NOTIFY gnomon_jobs, '<tenant>/<queue>'` in their transaction, so the
/// notification arrives when they commit; one connection per node listens, on a thread of its
/// own, and wakes the streams waiting on that tenant and queue. Cancelling a running job sends
/// its id on ``JobStore/cancellationChannel``, which wakes the stream that pushed it (see
/// ``follow(_:stream:)``), or tells it to look again before its next wait if it is busy. When
/// the listening connection breaks, every waiter is woken (to look for itself), every stream
/// is told to look again, and the connection is made again.
final class JobNotifications: Sendable {
    /// The channel submissions notify.
    static let channel = "gnomon_jobs"

    /// The channel a lease stream notifies when it starts attempts in shards another node
    /// owns, with `<shard>:<lease expiry in Unix ms>` pairs separated by commas, so that the
    /// owner's shard loop wakes when the earliest of them expires.
    static let attemptsChannel = "gnomon_attempts"

    private struct Waiter {
        let tenantID: String
        let queues: Set<String>
        /// The lease stream that waits, if it is one.
        let stream: UInt64?
        /// A stream with room for more jobs and no job-type filter: any job of its queues
        /// would be claimed by it, so one such stream is enough to wake for a new job.
        let hungry: Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private let connectionString: String
    private let logger: Logger
    /// Told of attempts started elsewhere in shards this node may own; and with no
    /// expiries, after the listener reconnected, so that every loop looks again.
    private let attemptsStarted: (@Sendable ([Int: Date]) -> Void)?
    /// Told of schedules changed in shards this node may own, by shard; with no shards,
    /// after the listener reconnected, so that every schedule loop looks again.
    private let schedulesChanged: (@Sendable ([Int]) -> Void)?
    private struct Waiters {
        var waiting: [UInt64: Waiter] = [:]
        /// Waiters woken (by their deadline or cancellation) before they registered.
        var wokenEarly: Set<UInt64> = []
        /// The jobs each open lease stream pushed and has not seen end, by stream.
        var streamJobs: [UInt64: Set<UUID>] = [:]
        /// The tenant and queues each open lease stream serves, by stream.
        var streamQueues: [UInt64: (tenantID: String, queues: Set<String>)] = [:]
        /// Streams that must look again before they next wait: a cancellation of one of their
        /// jobs arrived while they were not waiting, or notifications may have been missed.
        var lookAgain: Set<UInt64> = []
    }

    private let waiters = Synchronization.Mutex(Waiters())
    private let nextWaiter = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)

    init(
        connectionString: String,
        logger: Logger,
        attemptsStarted: (@Sendable ([Int: Date]) -> Void)? = nil,
        schedulesChanged: (@Sendable ([Int]) -> Void)? = nil
    ) {
        self.connectionString = connectionString
        self.logger = logger
        self.attemptsStarted = attemptsStarted
        self.schedulesChanged = schedulesChanged
    }

    /// The payloads announcing attempts that expire at `expiries`, by shard, each within
    /// PostgreSQL's limit on a notification's size.
    static func attemptPayloads(_ expiries: [Int: Date]) -> [String] {
        var payloads: [String] = []
        var current = ""
        for (shard, expiry) in expiries.sorted(by: { $0.key < $1.key }) {
            let pair = "\(shard):\(Int64((expiry.timeIntervalSince1970 * 1_000).rounded(.up)))"
            if current.utf8.count + pair.utf8.count + 1 > 7_000 {
                payloads.append(current)
                current = ""
            }
            current += current.isEmpty ? pair : "," + pair
        }
        if !current.isEmpty {
            payloads.append(current)
        }
        return payloads
    }

    /// The expiries an ``attemptsChannel`` payload announces; malformed pairs are ignored.
    static func attemptExpiries(_ payload: String) -> [Int: Date] {
        var expiries: [Int: Date] = [:]
        for pair in payload.split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let shard = Int(parts[0]), shard >= 0, let milliseconds = Int64(parts[1]) else {
                continue
            }
            let expiry = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
            expiries[shard] = min(expiries[shard] ?? expiry, expiry)
        }
        return expiries
    }

    /// The payload that names a tenant's queue.
    static func payload(tenantID: String, queue: String) -> String {
        "\(tenantID)/\(queue)"
    }

    /// Starts listening on a thread of its own.
    func start() {
        let thread = Thread { [self] in
            gnomon_set_thread_name("gnomon-notify")
            self.listenUntilStopped()
        }
        thread.start()
    }

    /// Whether ``stop()`` was called: the node is shutting down.
    var isStopped: Bool {
        self.stopping.load(ordering: .acquiring)
    }

    /// Stops listening and wakes every waiter.
    func stop() {
        self.stopping.store(true, ordering: .releasing)
        self.wakeAll()
    }

    /// Opens a lease stream's registration, to follow its queues and its jobs' cancellations.
    ///
    /// From now until ``closeStream(_:)``, a notification for one of `queues` of `tenantID`
    /// that arrives while the stream is busy (claiming, sending) makes its next wait return at
    /// once, so that a job submitted between its claim and its wait is not left waiting.
    ///
    /// - Returns: The stream's number, for ``follow(_:stream:)`` and ``wait(tenantID:queues:stream:until:)``;
    ///   pass it to ``closeStream(_:)`` when the stream ends.
    func openStream(tenantID: String = "", queues: Set<String> = []) -> UInt64 {
        let stream = self.nextWaiter.add(1, ordering: .relaxed).newValue
        self.waiters.withLock { waiters in
            waiters.streamJobs[stream] = []
            waiters.streamQueues[stream] = (tenantID, queues)
        }
        return stream
    }

    /// Sets the jobs whose cancellation wakes `stream`: those it pushed and has not seen end.
    ///
    /// Call it before the stream next reads what is running, so that a cancellation that
    /// read does not see yet is sure to wake the stream.
    func follow(_ jobs: Set<UUID>, stream: UInt64) {
        self.waiters.withLock { waiters in
            if waiters.streamJobs[stream] != nil {
                waiters.streamJobs[stream] = jobs
            }
        }
    }

    /// Forgets a stream that ended.
    func closeStream(_ stream: UInt64) {
        self.waiters.withLock { waiters in
            waiters.streamJobs[stream] = nil
            waiters.streamQueues[stream] = nil
            waiters.lookAgain.remove(stream)
        }
    }

    /// Waits until a job of one of `queues` may be claimable, a job `stream` follows was
    /// cancelled, `deadline` passes, or the task is cancelled; whichever comes first.
    ///
    /// - Parameter hungry: The stream has room for more jobs and would claim a job of any
    ///   type: a notification then wakes only one of the hungry streams of its queue (see
    ///   ``deliver(_:hungryOnly:except:)``).
    func wait(
        tenantID: String,
        queues: Set<String>,
        stream: UInt64? = nil,
        hungry: Bool = false,
        until deadline: ContinuousClock.Instant?
    ) async {
        let id = self.nextWaiter.add(1, ordering: .relaxed).newValue
        let timer = deadline.map { deadline in
            Task { [self] in
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else {
                    return
                }
                self.wake(id)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let registered = self.waiters.withLock { waiters -> Bool in
                    let told = stream.map { waiters.lookAgain.remove($0) != nil } ?? false
                    guard waiters.wokenEarly.remove(id) == nil, !told, !self.stopping.load(ordering: .acquiring)
                    else {
                        return false
                    }
                    waiters.waiting[id] = Waiter(
                        tenantID: tenantID, queues: queues, stream: stream, hungry: hungry && stream != nil,
                        continuation: continuation)
                    return true
                }
                if !registered {
                    continuation.resume()
                }
            }
        } onCancel: {
            self.wake(id)
        }
        timer?.cancel()
        await timer?.value
        // A wake that lost the race with another is remembered; forget it.
        _ = self.waiters.withLock { $0.wokenEarly.remove(id) }
    }

    private func wake(_ id: UInt64) {
        let waiter = self.waiters.withLock { waiters -> Waiter? in
            guard let waiter = waiters.waiting.removeValue(forKey: id) else {
                waiters.wokenEarly.insert(id)
                return nil
            }
            return waiter
        }
        waiter?.continuation.resume()
    }

    /// Wakes every waiter, and tells busy streams to look again before they next wait.
    private func wakeAll() {
        let all = self.waiters.withLock { waiters -> [Waiter] in
            defer { waiters.waiting.removeAll() }
            let waitingStreams = Set(waiters.waiting.values.compactMap(\.stream))
            waiters.lookAgain = Set(waiters.streamJobs.keys).subtracting(waitingStreams)
            return Array(waiters.waiting.values)
        }
        for waiter in all {
            waiter.continuation.resume()
        }
    }

    /// Wakes the streams that pushed the cancelled job, or tells them to look again.
    ///
    /// - Parameter payload: The job's id, as ``JobStore/cancellationChannel`` carries it.
    func deliverCancellation(_ payload: String) {
        guard let jobID = UUID(uuidString: payload) else {
            return
        }
        let woken = self.waiters.withLock { waiters -> [Waiter] in
            var woken: [Waiter] = []
            for (stream, jobs) in waiters.streamJobs where jobs.contains(jobID) {
                if let (id, waiter) = waiters.waiting.first(where: { $0.value.stream == stream }) {
                    waiters.waiting.removeValue(forKey: id)
                    woken.append(waiter)
                } else {
                    waiters.lookAgain.insert(stream)
                }
            }
            return woken
        }
        for waiter in woken {
            waiter.continuation.resume()
        }
    }

    /// Wakes the waiters of a tenant's queue that a new claimable job concerns.
    ///
    /// Of the hungry streams (room left, no job-type filter) only the one waiting longest
    /// wakes: any of them would claim the job, and waking them all made every submission cost
    /// a claim round of every stream, all but one finding nothing. A stream that fills up in
    /// its round passes the notification on (``deliver(_:hungryOnly:except:)`` with `hungryOnly`),
    /// so a batch of jobs still reaches as many streams as it needs. Every other waiter of
    /// the queue wakes: full streams (whose pushed job may have ended elsewhere), filtered
    /// streams, and waiters that are not streams. When no hungry stream waits, the busy
    /// streams serving the queue are told to look again before they next wait.
    ///
    /// - Parameters:
    ///   - payload: `<tenant>/<queue>`, as ``channel`` carries it.
    ///   - hungryOnly: Wake one hungry stream and nobody else: a stream that filled up
    ///     passing on the jobs it had no room for.
    ///   - except: A stream not to wake, the one passing the jobs on.
    func deliver(_ payload: String, hungryOnly: Bool = false, except: UInt64? = nil) {
        guard let slash = payload.firstIndex(of: "/") else {
            return
        }
        let tenantID = String(payload[..<slash])
        let queue = String(payload[payload.index(after: slash)...])
        let woken = self.waiters.withLock { waiters -> [Waiter] in
            let matching = waiters.waiting.filter {
                $0.value.tenantID == tenantID && $0.value.queues.contains(queue) && $0.value.stream != except
            }
            let longestHungry = matching.filter(\.value.hungry).min { $0.key < $1.key }
            var chosen = hungryOnly ? [:] : matching.filter { !$0.value.hungry }
            if let longestHungry {
                chosen[longestHungry.key] = longestHungry.value
            }
            for id in chosen.keys {
                waiters.waiting.removeValue(forKey: id)
            }
            if longestHungry == nil {
                let waitingStreams = Set(matching.values.compactMap(\.stream))
                for (stream, interest) in waiters.streamQueues
                where interest.tenantID == tenantID && interest.queues.contains(queue)
                    && !waitingStreams.contains(stream) && stream != except
                {
                    waiters.lookAgain.insert(stream)
                }
            }
            return Array(chosen.values)
        }
        for waiter in woken {
            waiter.continuation.resume()
        }
    }

    private func listenUntilStopped() {
        var failures = 0
        while !self.stopping.load(ordering: .acquiring) {
            do {
                let connection = try PostgresConnection(connectionString: self.connectionString)
                try connection.listen(Self.channel)
                try connection.listen(JobStore.cancellationChannel)
                try connection.listen(Self.attemptsChannel)
                try connection.listen(ScheduleService.channel)
                failures = 0
                // Jobs submitted, attempts started and schedules changed while no connection
                // listened are found by looking once.
                self.wakeAll()
                self.attemptsStarted?([:])
                self.schedulesChanged?([])
                while !self.stopping.load(ordering: .acquiring) {
                    // The wait is on the socket; the timeout only lets the loop see a stop.
                    for notification in try connection.notifications(waitingUpTo: .seconds(1)) {
                        if notification.channel == JobStore.cancellationChannel {
                            self.deliverCancellation(notification.payload)
                        } else if notification.channel == Self.attemptsChannel {
                            self.attemptsStarted?(Self.attemptExpiries(notification.payload))
                        } else if notification.channel == ScheduleService.channel {
                            if let shard = Int(notification.payload) {
                                self.schedulesChanged?([shard])
                            }
                        } else {
                            self.deliver(notification.payload)
                        }
                    }
                }
            } catch {
                failures += 1
                self.logger.warning(
                    "job notifications interrupted; reconnecting", [LogKey.error: "\(error)"])
                self.wakeAll()
                Thread.sleep(forTimeInterval: min(0.1 * Double(1 << min(failures, 5)), 3))
            }
        }
    }
}
