import Foundation
import Glibc

/// The owner and permission bits of a file or folder.
struct FileOwnership: Sendable, Equatable {
    var uid: uid_t
    var gid: gid_t
    var mode: mode_t

    /// Reads the ownership of `path`, or nil when it does not exist.
    static func of(_ path: String) -> FileOwnership? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return nil
        }
        return FileOwnership(uid: info.st_uid, gid: info.st_gid, mode: info.st_mode)
    }
}

/// The unprivileged system account the server runs as when the launcher is root.
///
/// PostgreSQL refuses to run as root, so a root launcher runs every PostgreSQL program as this
/// account and hands it the folders the server writes to.
struct ServerAccount: Sendable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]
    var home: String

    /// The account to switch to, or nil when this process is not root and runs the server itself.
    static func forLauncher(unprivilegedUser: String) throws -> ServerAccount? {
        guard geteuid() == 0 else {
            return nil
        }
        return try self.lookUp(unprivilegedUser)
    }

    /// Looks up an account by name in the system's user database.
    static func lookUp(_ name: String) throws -> ServerAccount {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            throw StoreError(
                .permissionDenied,
                "running as root, but PostgreSQL refuses root and there is no '\(name)' account to run it as; "
                    + "create one (useradd --system \(name)) or run as a non-root user"
            )
        }
        return ServerAccount(
            name: name,
            uid: entry.pw_uid,
            gid: entry.pw_gid,
            groups: Self.groups(of: name, primary: entry.pw_gid),
            home: String(cString: entry.pw_dir)
        )
    }

    /// Gives a file or folder to this account.
    func take(_ path: String) throws {
        guard chown(path, self.uid, self.gid) == 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.permissionDenied, "could not give \(path) to the '\(self.name)' account: \(reason)")
        }
    }

    /// Whether this account may enter a folder with the given ownership.
    func canSearch(_ ownership: FileOwnership) -> Bool {
        if ownership.uid == self.uid {
            return ownership.mode & S_IXUSR != 0
        }
        if ownership.gid == self.gid || self.groups.contains(ownership.gid) {
            return ownership.mode & S_IXGRP != 0
        }
        return ownership.mode & S_IXOTH != 0
    }

    /// Throws unless this account can enter every existing folder above `directory`.
    ///
    /// - Parameter ownershipOf: Reads a folder's ownership; nil for folders that do not exist yet,
    ///   which the launcher creates itself with mode 0755.
    func checkCanReach(_ directory: String, ownershipOf: (String) -> FileOwnership? = FileOwnership.of) throws {
        for ancestor in Self.ancestors(of: directory) {
            guard let ownership = ownershipOf(ancestor), !self.canSearch(ownership) else {
                continue
            }
            let mode = String(ownership.mode & 0o7777, radix: 8)
            throw StoreError(
                .permissionDenied,
                "the data directory \(directory) cannot be reached by the '\(self.name)' account (uid \(self.uid)) "
                    + "that PostgreSQL runs as when launched by root: \(ancestor) (owner uid \(ownership.uid), "
                    + "mode \(mode)) is not searchable by it. Choose a data directory outside \(ancestor), "
                    + "for example under /tmp or /var/lib; its folders are left unchanged"
            )
        }
    }

    /// The folders from `/` down to the parent of `path`.
    static func ancestors(of path: String) -> [String] {
        let parts = path.split(separator: "/").dropLast()
        var ancestors = ["/"]
        var current = ""
        for part in parts {
            current += "/" + part
            ancestors.append(current)
        }
        return ancestors
    }

    private static func groups(of name: String, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, primary, &groups, &count)
        }
        return Array(groups.prefix(Int(max(count, 0))))
    }
}

extension EmbeddedPostgres {
    /// Whether the server's account can enter every existing folder above `dataDirectory`.
    ///
    /// Always true when this process is not root, since the server then runs as this user.
    ///
    /// - Parameters:
    ///   - dataDirectory: An absolute path for the cluster.
    ///   - unprivilegedUser: The account PostgreSQL runs as when launched by root.
    public static func canReach(_ dataDirectory: String, unprivilegedUser: String = "postgres") -> Bool {
        guard let account = try? ServerAccount.forLauncher(unprivilegedUser: unprivilegedUser) else {
            return geteuid() != 0
        }
        return (try? account.checkCanReach(dataDirectory)) != nil
    }
}
