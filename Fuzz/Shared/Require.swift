/// Traps with the message when a property the fuzz target checks does not hold.
///
/// `precondition` drops its message in optimised builds; a finding needs it in the crash log.
///
/// - Parameters:
///   - condition: The property that must hold.
///   - message: What went wrong, for the crash log.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        fatalError(message())
    }
}
