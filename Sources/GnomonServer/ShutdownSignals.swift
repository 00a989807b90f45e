import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into an awaitable event, so the server can shut down in order.
public final class ShutdownSignals: @unchecked Sendable {
    private let stream: AsyncStream<String>
    // Only kept alive: the sources are resumed once in `install()` and never touched again.
    private let sources: [any DispatchSourceSignal]

    private init(stream: AsyncStream<String>, sources: [any DispatchSourceSignal]) {
        self.stream = stream
        self.sources = sources
    }

    /// Stops SIGINT and SIGTERM from ending the process and delivers them through ``next()``.
    public static func install() -> ShutdownSignals {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let queue = DispatchQueue(label: "gnomon.signals")
        let sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(name) }
            source.resume()
            return source
        }
        return ShutdownSignals(stream: stream, sources: sources)
    }

    /// Waits for the next shutdown signal and returns its name, such as `SIGTERM`.
    public func next() async -> String {
        var iterator = self.stream.makeAsyncIterator()
        return await iterator.next() ?? "end"
    }
}
