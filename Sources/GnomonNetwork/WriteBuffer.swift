import Glibc

/// Bytes waiting for a socket to take them, with watermarks that tell producers to pause.
///
/// Bytes are copied once, into chunks of 16 KiB (or one chunk the size of a larger write),
/// and leave from the front without moving what remains, so a long queue costs no more per
/// byte than a short one. ``isWritable`` turns `false` when more than ``highWatermark``
/// bytes wait, and `true` again only once at most ``lowWatermark`` do, so a producer that
/// pauses and resumes on it does not flap around a single threshold.
///
/// Not thread-safe: it belongs to one connection on one event loop.
public final class WriteBuffer {
    /// The default level at or under which a full buffer is writable again: 256 KiB.
    public static let defaultLowWatermark = 256 * 1024
    /// The default level over which the buffer stops being writable: 1 MiB.
    public static let defaultHighWatermark = 1024 * 1024

    private struct Chunk {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        /// The first byte not yet consumed.
        var start: Int
        /// One past the last byte appended.
        var end: Int
    }

    private static let chunkCapacity = 16 * 1024

    /// At or under this many bytes, a buffer that was over the high watermark is writable again.
    public let lowWatermark: Int
    /// Over this many bytes, the buffer is no longer writable.
    public let highWatermark: Int
    /// How many bytes wait.
    public private(set) var count = 0
    /// Whether producers may go on appending; see the type's description.
    public private(set) var isWritable = true

    private var chunks: [Chunk] = []
    /// The index of the first chunk still holding bytes; earlier ones are freed.
    private var head = 0

    /// Creates an empty buffer.
    ///
    /// - Parameters:
    ///   - lowWatermark: The level at or under which the buffer is writable again.
    ///   - highWatermark: The level over which it is not writable; at least `lowWatermark`.
    public init(
        lowWatermark: Int = WriteBuffer.defaultLowWatermark,
        highWatermark: Int = WriteBuffer.defaultHighWatermark
    ) {
        precondition(0 <= lowWatermark && lowWatermark <= highWatermark, "need 0 ≤ low watermark ≤ high watermark")
        self.lowWatermark = lowWatermark
        self.highWatermark = highWatermark
    }

    deinit {
        self.releaseAll()
    }

    /// Whether no bytes wait.
    public var isEmpty: Bool {
        self.count == 0
    }

    /// Appends a copy of `bytes`.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard var source = bytes.baseAddress, !bytes.isEmpty else {
            return
        }
        var remaining = bytes.count
        if self.head < self.chunks.count {
            let last = self.chunks.count - 1
            let room = self.chunks[last].capacity - self.chunks[last].end
            let taken = min(room, remaining)
            if taken > 0 {
                (self.chunks[last].base + self.chunks[last].end).copyMemory(from: source, byteCount: taken)
                self.chunks[last].end += taken
                source += taken
                remaining -= taken
            }
        }
        if remaining > 0 {
            let capacity = max(Self.chunkCapacity, remaining)
            let base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            base.copyMemory(from: source, byteCount: remaining)
            self.chunks.append(Chunk(base: base, capacity: capacity, start: 0, end: remaining))
        }

        self.count += bytes.count
        if self.count > self.highWatermark {
            self.isWritable = false
        }
    }

    /// Appends a copy of `bytes`.
    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.append($0) }
    }

    /// Drops `byteCount` bytes from the front, once a socket has taken them.
    ///
    /// - Parameter byteCount: At most ``count``.
    public func consume(_ byteCount: Int) {
        precondition(byteCount >= 0 && byteCount <= self.count, "cannot consume more bytes than are buffered")
        var remaining = byteCount
        while remaining > 0 {
            let available = self.chunks[self.head].end - self.chunks[self.head].start
            if remaining < available {
                self.chunks[self.head].start += remaining
                break
            }
            self.chunks[self.head].base.deallocate()
            self.head += 1
            remaining -= available
        }
        self.count -= byteCount
        self.compact()
        if self.count <= self.lowWatermark {
            self.isWritable = true
        }
    }

    /// Drops every byte, as when the connection closes.
    public func removeAll() {
        self.releaseAll()
        self.count = 0
        self.isWritable = true
    }

    /// A copy of the waiting bytes, front first; for tests and diagnostics.
    public func copyBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(self.count)
        for chunk in self.chunks[self.head...] {
            bytes.append(
                contentsOf: UnsafeRawBufferPointer(start: chunk.base + chunk.start, count: chunk.end - chunk.start))
        }
        return bytes
    }

    /// Calls `body` with up to `maximumCount` regions from the front, as `sendmsg` takes them.
    ///
    /// The regions stay valid only during the call; the buffer must not change meanwhile.
    func withIOVectors<Result, Failure: Error>(
        maximumCount: Int,
        _ body: (UnsafeMutableBufferPointer<iovec>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let regions = min(maximumCount, self.chunks.count - self.head)
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(regions, 1)) {
            (vectors) throws(Failure) -> Result in
            for index in 0..<regions {
                let chunk = self.chunks[self.head + index]
                vectors[index] = iovec(iov_base: chunk.base + chunk.start, iov_len: chunk.end - chunk.start)
            }
            return try body(UnsafeMutableBufferPointer(rebasing: vectors[0..<regions]))
        }
    }

    /// Gives memory back once it is empty, and drops freed chunks from the front now and then.
    private func compact() {
        if self.head == self.chunks.count {
            // An idle connection keeps no chunk, so thousands of them cost little memory.
            self.chunks.removeAll()
            self.head = 0
        } else if self.head >= 32 && self.head * 2 >= self.chunks.count {
            self.chunks.removeFirst(self.head)
            self.head = 0
        }
    }

    private func releaseAll() {
        for chunk in self.chunks[self.head...] {
            chunk.base.deallocate()
        }
        self.chunks.removeAll()
        self.head = 0
    }
}
