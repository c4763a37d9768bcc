import Foundation

/// Advisory lock keys (the two-`int4` form: `classid` = namespace, `objid` = purpose, `objsubid` = 2
/// in `pg_locks`). Advisory locks are per database, so each AccessSync database has its own.
enum LockKeys {
    /// "ASYN".
    static let namespace: Int32 = 0x4153_594E
    /// The run lock: one writer (sync or mutating CLI command) at a time, session-scoped.
    static let run: Int32 = 1
    /// Migrations, transaction-scoped.
    static let migrate: Int32 = 2
}

/// Who is running this process, as recorded next to the database role in audit rows and runs.
public enum ProcessIdentity {
    /// The OS user name (from the password database for the effective uid, else `$USER`/`$LOGNAME`).
    public static var osUser: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        let environment = ProcessInfo.processInfo.environment
        return environment["USER"] ?? environment["LOGNAME"] ?? "uid:\(geteuid())"
    }
}
