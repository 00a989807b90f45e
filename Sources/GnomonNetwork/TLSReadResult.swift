/// What reading plaintext from a ``TLSSession`` produced.
public enum TLSReadResult: Sendable, Hashable {
    /// This many plaintext bytes were stored in the caller's buffer.
    case plaintext(Int)
    /// No plaintext is available until more ciphertext is received from the peer.
    case needsMoreCiphertext
    /// The peer sent close_notify: no more plaintext will come.
    case closed
}
