import GnomonProtocol

/// Seeds for the FrameDecoding target: real frame streams behind the settings of ``FrameStreamInput``.
enum FrameSeeds {
    /// The connection settings a seed starts with.
    struct Settings {
        var maximumFrameLength = ProtocolLimits.defaultMaximumFrameLength
        var startsCalls = false
        var handlersAnswer = false
        var tickInterval: Duration? = nil
        var maximumConcurrentStreams = 100
        var chunkLengths: [UInt8] = []
        var serverShutsDown = false
        var clientShutsDown = false
        var clientCancels = false
        var handlersMisbehave = false

        /// The bytes before the stream that ``FrameStreamInput`` reads these settings from.
        var header: [UInt8] {
            var settings = FrameStreamInput.maximumFrameLengths.firstIndex(of: self.maximumFrameLength)!
            settings |= self.startsCalls ? 4 : 0
            settings |= self.handlersAnswer ? 8 : 0
            settings |= FrameStreamInput.tickIntervals.firstIndex(of: self.tickInterval)! << 4
            settings |= FrameStreamInput.maximumConcurrentStreams.firstIndex(of: self.maximumConcurrentStreams)! << 6
            var events = self.chunkLengths.count
            events |= self.serverShutsDown ? 0x10 : 0
            events |= self.clientShutsDown ? 0x20 : 0
            events |= self.clientCancels ? 0x40 : 0
            events |= self.handlersMisbehave ? 0x80 : 0
            return [UInt8(settings), UInt8(events)] + self.chunkLengths
        }
    }

    /// Makes every seed.
    static func make() throws -> [(name: String, bytes: [UInt8])] {
        try self.serverSeeds() + self.clientSeeds() + self.brokenStreamSeeds()
    }

    /// Streams a client sends: calls, cancels, pings and GOAWAY.
    private static func serverSeeds() throws -> [(name: String, bytes: [UInt8])] {
        let job = V1.SubmitJobRequest(
            job: V1.JobSpec(queue: "email", jobType: "welcome", payloadJSON: Array("{}".utf8)))
        let metadata = V1.CallMetadata(
            authorization: "Bearer e30.e30.",
            timeoutMs: 5_000,
            requestID: "req-1",
            extra: ["x-client": "fuzz"]
        )
        let submit = V1.Frame.makeRequest(
            streamID: 1,
            method: MethodDescriptor.submitJob.fullName,
            metadata: metadata,
            payload: try job.serializedBytes()
        )
        let lease = V1.Frame.makeRequest(
            streamID: 3,
            method: MethodDescriptor.leaseJobs.fullName,
            payload: try V1.LeaseJobsRequest(workerID: "w1", queues: ["email"], capacity: 4).serializedBytes()
        )
        let unknown = V1.Frame.makeRequest(streamID: 5, method: "gnomon.v1.NoService/Nothing", payload: [])
        let negative = V1.Frame.makeRequest(
            streamID: 7,
            method: MethodDescriptor.getServerStatus.fullName,
            metadata: V1.CallMetadata(timeoutMs: -1),
            payload: []
        )
        let ping = V1.Frame.makePing(data: 42)
        let goAway = V1.Frame.makeGoAway(reason: .shutdown, lastStreamID: 0, message: "bye")

        return [
            ("request-unary", try self.seed(Settings(), [submit])),
            (
                "request-then-cancel-byte-by-byte",
                try self.seed(Settings(chunkLengths: [1]), [submit, .makeCancel(streamID: 1)])
            ),
            (
                "requests-coalesced-handlers-answer",
                try self.seed(
                    Settings(handlersAnswer: true, maximumConcurrentStreams: 2), [submit, lease, unknown, negative])
            ),
            (
                "requests-misbehaving-handlers-shutdown",
                try self.seed(
                    Settings(handlersAnswer: true, chunkLengths: [120], serverShutsDown: true, handlersMisbehave: true),
                    [submit, lease, ping]
                )
            ),
            (
                "requests-past-deadline",
                try self.seed(Settings(tickInterval: .seconds(15), chunkLengths: [7, 200]), [submit, lease, ping])
            ),
            (
                "ping-goaway-then-request",
                try self.seed(Settings(tickInterval: .milliseconds(100), chunkLengths: [5, 9]), [ping, goAway, lease])
            ),
            (
                "pings-until-idle",
                try self.seed(
                    Settings(tickInterval: .seconds(301), chunkLengths: [4]), [ping, .makePing(data: 1, ack: true)])
            ),
        ]
    }

    /// Streams a server sends, to a client that has started calls on streams 1, 3 and 5.
    private static func clientSeeds() throws -> [(name: String, bytes: [UInt8])] {
        let status = V1.Status(
            code: 8,
            message: "quota",
            details: [V1.StatusDetail(detail: .retryInfo(V1.RetryInfo(retryAfterMs: 250)))]
        )
        let response = V1.Frame.makeResponse(
            streamID: 1, payload: try V1.GetServerStatusResponse(version: "1").serializedBytes())
        let message = V1.Frame.makeStreamMessage(streamID: 3, payload: [0x0A, 0x00])
        let end = V1.Frame(streamID: 3, kind: .end, status: status)
        let failed = V1.Frame(streamID: 5, kind: .response, status: status)
        let goAway = V1.Frame.makeGoAway(reason: .shutdown, lastStreamID: 1, message: "draining")

        return [
            (
                "client-calls-answered",
                try self.seed(Settings(startsCalls: true, chunkLengths: [3, 30]), [response, message, end, failed])
            ),
            ("client-goaway", try self.seed(Settings(startsCalls: true), [goAway, response, message])),
            (
                "client-cancels-and-shuts-down",
                try self.seed(
                    Settings(startsCalls: true, chunkLengths: [9], clientShutsDown: true, clientCancels: true),
                    [message, response, end]
                )
            ),
            (
                "client-deadline-passes",
                try self.seed(
                    Settings(startsCalls: true, tickInterval: .seconds(15), chunkLengths: [2]), [message, response])
            ),
        ]
    }

    /// Streams the decoder refuses, or frames the machines refuse.
    private static func brokenStreamSeeds() throws -> [(name: String, bytes: [UInt8])] {
        let large = V1.Frame.makeStreamMessage(streamID: 1, payload: Array(repeating: 7, count: 64))
        let evenRequest = V1.Frame.makeRequest(streamID: 2, method: MethodDescriptor.getJob.fullName, payload: [])
        let malformed: [UInt8] = [0, 0, 0, 3, 0xFF, 0xFF, 0xFF]
        return [
            ("too-large-for-40-bytes", try self.seed(Settings(maximumFrameLength: 40), [large])),
            ("length-ffffffff", Settings().header + [0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x01]),
            ("malformed-body", Settings().header + malformed),
            ("empty-frame-then-ping", try self.seed(Settings(), [V1.Frame(), .makePing(data: 7)])),
            ("request-on-even-stream", try self.seed(Settings(startsCalls: true), [evenRequest])),
        ]
    }

    /// The settings' header followed by the frames, each with its length prefix.
    private static func seed(_ settings: Settings, _ frames: [V1.Frame]) throws -> [UInt8] {
        var bytes = settings.header
        for frame in frames {
            try FrameEncoder().encode(frame, into: &bytes)
        }
        return bytes
    }
}
