public import Foundation

/// Fire times of an expression after an instant, each computed when it is asked for.
public struct CronFireSequence: Sequence, IteratorProtocol, Sendable {
    private let expression: CronExpression
    private let zone: TimeZone
    private let policy: CronSchedulePolicy
    private let anchor: Date
    private var last: Date?

    init(expression: CronExpression, after date: Date, zone: TimeZone, policy: CronSchedulePolicy, anchor: Date) {
        self.expression = expression
        self.zone = zone
        self.policy = policy
        self.anchor = anchor
        self.last = date
    }

    /// The next fire time, or nil once the expression has none left.
    public mutating func next() -> Date? {
        guard let last = self.last else {
            return nil
        }
        self.last = self.expression.nextFire(after: last, in: self.zone, policy: self.policy, anchor: self.anchor)
        return self.last
    }
}
