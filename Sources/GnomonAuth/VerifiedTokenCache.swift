/// Tokens already verified, by the SHA-256 of their text, kept until they expire.
///
/// A busy connection presents the same token on every call; remembering the outcome spares a
/// signature check per call. Only tokens that passed every check are kept, and only until
/// their `exp`: an entry is never trusted past it. The digest, not the token, is the key, so
/// the cache holds no bearer credential.
struct VerifiedTokenCache {
    /// SHA-256 of a token, as four words, which hash faster than an array.
    struct Digest: Hashable {
        var words: (UInt64, UInt64, UInt64, UInt64)

        init?(sha256 bytes: [UInt8]?) {
            guard let bytes, bytes.count == 32 else {
                return nil
            }
            func word(_ index: Int) -> UInt64 {
                bytes[index * 8..<index * 8 + 8].reduce(0) { $0 << 8 | UInt64($1) }
            }
            self.words = (word(0), word(1), word(2), word(3))
        }

        static func == (lhs: Digest, rhs: Digest) -> Bool {
            lhs.words == rhs.words
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(self.words.0)
            hasher.combine(self.words.1)
            hasher.combine(self.words.2)
            hasher.combine(self.words.3)
        }
    }

    let capacity: Int
    private var entries: [Digest: VerifiedToken] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int {
        self.entries.count
    }

    func lookup(_ digest: Digest) -> VerifiedToken? {
        self.entries[digest]
    }

    mutating func remove(_ digest: Digest) {
        self.entries[digest] = nil
    }

    /// Remembers a verified token; when full, expired entries go first, then arbitrary ones.
    mutating func insert(_ token: VerifiedToken, for digest: Digest, now: NumericDate) {
        guard self.capacity > 0 else {
            return
        }
        if self.entries.count >= self.capacity && self.entries[digest] == nil {
            self.entries = self.entries.filter { $0.value.times.expiry > now }
            if self.entries.count >= self.capacity {
                // Still full of live tokens: drop an eighth, so that this scan is not repeated on every insert.
                let excess = self.entries.count - self.capacity + max(self.capacity / 8, 1)
                self.entries = Dictionary(
                    uniqueKeysWithValues: self.entries.dropFirst(excess).map { ($0.key, $0.value) })
            }
        }
        self.entries[digest] = token
    }

    mutating func removeAll() {
        self.entries.removeAll()
    }
}
