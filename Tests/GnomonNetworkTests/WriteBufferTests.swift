import Glibc
import Testing

@testable import GnomonNetwork

@Suite("Write buffer")
struct WriteBufferTests {
    /// The lengths of the regions `sendmsg` would get, front first.
    private func regionLengths(_ buffer: WriteBuffer, maximum: Int = 64) -> [Int] {
        buffer.withIOVectors(maximumCount: maximum) { vectors in vectors.map(\.iov_len) }
    }

    @Test("bytes leave in the order they came, across chunk boundaries and partial consumption")
    func keepsOrder() {
        let buffer = WriteBuffer()
        var expected: [UInt8] = []
        for round in 0..<200 {
            let bytes = (0..<(round * 37 % 700)).map { UInt8(truncatingIfNeeded: $0 &+ round) }
            buffer.append(bytes)
            expected += bytes
            if round % 3 == 0 {
                let taken = min(buffer.count, 1000 + round)
                buffer.consume(taken)
                expected.removeFirst(taken)
            }
        }
        #expect(buffer.count == expected.count)
        #expect(buffer.copyBytes() == expected)
    }

    @Test("small writes share 16 KiB chunks, a large one gets a chunk of its own")
    func coalescesSmallWrites() {
        let buffer = WriteBuffer()
        for _ in 0..<1000 {
            buffer.append([UInt8](repeating: 1, count: 10))
        }
        #expect(self.regionLengths(buffer) == [10_000])

        buffer.append([UInt8](repeating: 2, count: 100_000))
        #expect(self.regionLengths(buffer) == [16_384, 100_000 - (16_384 - 10_000)])
        #expect(self.regionLengths(buffer, maximum: 1) == [16_384])

        buffer.consume(16_000)
        #expect(self.regionLengths(buffer) == [384, 100_000 - 6_384])
    }

    @Test("not writable over the high watermark, writable again only at the low watermark")
    func watermarks() {
        let buffer = WriteBuffer(lowWatermark: 100, highWatermark: 1000)
        buffer.append([UInt8](repeating: 0, count: 1000))
        #expect(buffer.isWritable)

        buffer.append([0])
        #expect(!buffer.isWritable)
        buffer.consume(500)
        #expect(!buffer.isWritable)
        buffer.consume(400)
        #expect(!buffer.isWritable)
        buffer.consume(1)
        #expect(buffer.count == 100)
        #expect(buffer.isWritable)
    }

    @Test("an emptied buffer holds no chunk, and removeAll resets writability")
    func emptying() {
        let buffer = WriteBuffer(lowWatermark: 0, highWatermark: 10)
        buffer.append([UInt8](repeating: 0, count: 50_000))
        buffer.consume(50_000)
        #expect(buffer.isEmpty)
        #expect(buffer.isWritable)
        #expect(self.regionLengths(buffer).isEmpty)

        buffer.append([UInt8](repeating: 0, count: 20))
        #expect(!buffer.isWritable)
        buffer.removeAll()
        #expect(buffer.isEmpty && buffer.isWritable)
        buffer.append([])
        #expect(buffer.isEmpty)
    }

    @Test("a long queue of small chunks drains in linear time")
    func longQueue() {
        let buffer = WriteBuffer()
        let chunk = [UInt8](repeating: 3, count: 16_384)
        for _ in 0..<2000 {
            buffer.append(chunk)
        }
        var drained = 0
        while !buffer.isEmpty {
            let step = self.regionLengths(buffer).reduce(0, +) - 1
            buffer.consume(max(1, step))
            drained += max(1, step)
        }
        #expect(drained == 2000 * 16_384)
    }
}
