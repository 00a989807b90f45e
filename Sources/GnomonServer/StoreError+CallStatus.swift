import GnomonNetwork
import GnomonProtocol
import GnomonStore

extension CallStatus {
    /// The status a client sees for a store failure: what was wrong in its request, or that
    /// the database could not be reached, never the SQL.
    init(_ error: any Error, doing action: String) {
        guard let error = error as? StoreError else {
            if let status = error as? CallStatus {
                self = status
            } else {
                self.init(code: .internal, message: "\(action) failed: \(error)")
            }
            return
        }
        switch error.code {
        case .invalidArgument:
            self.init(code: .invalidArgument, message: error.message)
        case .notFound:
            self.init(code: .notFound, message: error.message)
        case .alreadyExists:
            self.init(code: .alreadyExists, message: error.message)
        case .failedPrecondition:
            self.init(code: .failedPrecondition, message: error.message)
        case .quotaExceeded:
            self.init(code: .resourceExhausted, message: error.message)
        case .connectionFailed, .poolClosed:
            self.init(code: .unavailable, message: "\(action) failed: the database cannot be reached; try again")
        default:
            self.init(code: .internal, message: "\(action) failed: \(error.code)")
        }
    }
}
