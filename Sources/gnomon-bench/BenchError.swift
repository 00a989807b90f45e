/// A benchmark that could not run, with what went wrong and what would be right.
struct BenchError: Error, CustomStringConvertible {
    var message: String

    /// Creates an error with a message meant for the person running the benchmark.
    init(_ message: String) {
        self.message = message
    }

    var description: String {
        self.message
    }
}
