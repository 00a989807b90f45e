import COpenSSL
import Foundation

/// Reads the `.proto` sources of the checkout these tests were built from.
enum ProtoFiles {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("proto")

    /// The paths of every `.proto` file under proto/, relative to it, in byte order.
    static func relativePaths() throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: self.root.path)
        var paths: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".proto") {
                paths.append(path)
            }
        }
        return paths.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// SHA-256 over each file's path, a NUL, its bytes and a NUL, as the generator computes it.
    static func digest() throws -> String {
        var input: [UInt8] = []
        for path in try self.relativePaths() {
            input += Array(path.utf8) + [0]
            input += try Array(Data(contentsOf: self.root.appendingPathComponent(path))) + [0]
        }
        var hash = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(input, input.count, &hash)
        return hash.map { String(format: "%02x", $0) }.joined()
    }

    /// The full wire names of every method declared in proto/.
    static func declaredMethodNames() throws -> Set<String> {
        var names: Set<String> = []
        for path in try self.relativePaths() {
            let text = try String(contentsOf: self.root.appendingPathComponent(path), encoding: .utf8)
            var package = ""
            var service = ""
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.first == "package", let name = words.dropFirst().first {
                    package = String(name.dropLast())
                }
                if words.first == "service", let name = words.dropFirst().first {
                    service = String(name)
                }
                if words.first == "rpc", let name = words.dropFirst().first?.prefix(while: { $0 != "(" }) {
                    names.insert("\(package).\(service)/\(name)")
                }
            }
        }
        return names
    }

    /// The full names of every message declared in proto/, map entries aside.
    static func declaredMessageNames() throws -> Set<String> {
        var names: Set<String> = []
        for path in try self.relativePaths() {
            let text = try String(contentsOf: self.root.appendingPathComponent(path), encoding: .utf8)
            var package = ""
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.first == "package", let name = words.dropFirst().first {
                    package = String(name.dropLast())
                }
                if words.first == "message", let name = words.dropFirst().first {
                    names.insert("\(package).\(name)")
                }
            }
        }
        return names
    }
}
