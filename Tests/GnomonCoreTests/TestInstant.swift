/// An instant on a made-up clock: a duration since the clock's zero.
struct TestInstant: InstantProtocol, CustomStringConvertible {
    var sinceZero: Duration

    /// The clock's zero.
    static let zero = TestInstant(sinceZero: .zero)

    /// The instant `seconds` after the clock's zero.
    static func seconds(_ seconds: Int64) -> TestInstant {
        TestInstant(sinceZero: .seconds(seconds))
    }

    func advanced(by duration: Duration) -> TestInstant {
        TestInstant(sinceZero: self.sinceZero + duration)
    }

    func duration(to other: TestInstant) -> Duration {
        other.sinceZero - self.sinceZero
    }

    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool {
        lhs.sinceZero < rhs.sinceZero
    }

    var description: String {
        "zero + \(self.sinceZero)"
    }
}
