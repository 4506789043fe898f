internal import CSQLite
import Dispatch

/// The isolation state of one connection, read by the C callbacks SQLite calls while it
/// prepares and steps statements: the `current_tenant()` function, the authorizer and the
/// progress handler.
///
/// `@unchecked Sendable` is sound because the owning ``SQLiteConnection`` actor is the only
/// user: SQLite calls the callbacks synchronously on the actor's queue, during calls the actor
/// makes, and the actor keeps the guard alive as long as the handle.
final class ConnectionGuard: @unchecked Sendable {
    /// Who the statements running now belong to.
    enum Mode: Hashable {
        /// The library's own statements: registry, migrations, protecting tables. No guard.
        case platform
        /// A tenant's statements on pooled tables: the full deny-list plus base-table checks.
        case pooledTenant
        /// A tenant's statements in its own database file: the deny-list only.
        case siloTenant
    }

    var mode: Mode = .platform
    /// The tenant `current_tenant()` returns, as NUL-terminated UTF-8; nil returns NULL.
    var tenant: [CChar]?
    /// Monotonic nanoseconds after which the progress handler interrupts; 0 means no limit.
    var deadline: UInt64 = 0
    /// The time limit of the bound statements, for the error message.
    var timeLimitNanoseconds: UInt64 = 0
    /// Why the authorizer denied the last statement, for the error the caller gets.
    var denial: String?

    /// Pragmas a tenant statement may run: read-only schema introspection.
    static let allowedPragmas: Set<String> = ["table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"]
    /// Functions no tenant statement may call.
    static let deniedFunctions: Set<String> = ["load_extension", "fts3_tokenizer"]
    /// Functions that count the changes made on the connection by any tenant, denied in the
    /// pool. Through a protected view `changes()` is 0 anyway.
    static let sharedCounterFunctions: Set<String> = ["changes", "total_changes"]
    /// Built-in virtual tables that expose other tenants' pages or statistics.
    static let deniedTables: Set<String> = ["dbstat", "sqlite_dbpage", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4"]

    /// Installs the function, the authorizer, the progress handler, the time-limited string
    /// functions and the length limit.
    func install(on handle: OpaquePointer, lengthLimit: Int32) throws {
        let userData = Unmanaged.passUnretained(self).toOpaque()
        let flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS
        let code = sqlite3_create_function_v2(handle, "current_tenant", 0, flags, userData, currentTenantFunction, nil, nil, nil)
        guard code == SQLITE_OK else { throw SQLiteError(connection: handle, code: code, operation: "register current_tenant()") }
        sqlite3_set_authorizer(handle, authorizerCallback, userData)
        // SQLite calls the progress handler only between instructions, and one call of instr,
        // replace, LIKE, GLOB or trim, ltrim and rtrim with two arguments is one instruction
        // whose cost is the product of its argument lengths. The replacements check the
        // deadline themselves.
        sqlite3_progress_handler(handle, 1_000, progressCallback, userData)
        try TimeLimitedStringFunctions.register(on: handle, userData: userData)
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, lengthLimit)
    }

    /// Decides one authorizer request; sets ``denial`` when it denies.
    func authorize(action: Int32, _ first: String?, _ second: String?, context: String?) -> Int32 {
        if mode == .platform { return SQLITE_OK }
        if let reason = denialReason(action: action, first, second, context: context) {
            denial = reason
            return SQLITE_DENY
        }
        return SQLITE_OK
    }

    private func denialReason(action: Int32, _ first: String?, _ second: String?, context: String?) -> String? {
        switch action {
        case SQLITE_SELECT, SQLITE_RECURSIVE:
            return nil
        case SQLITE_READ, SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
            return tableDenialReason(action: action, table: first ?? "", context: context)
        case SQLITE_FUNCTION:
            let name = (second ?? "").lowercased()
            if Self.deniedFunctions.contains(name) { return "the function \(name)() is not allowed in a tenant scope" }
            if mode == .pooledTenant, Self.sharedCounterFunctions.contains(name) {
                return "the function \(name)() counts the changes of every tenant on the shared connection and is not allowed on pooled tables; use the row count that execute returns"
            }
            return nil
        case SQLITE_PRAGMA:
            let name = (first ?? "").lowercased()
            return Self.allowedPragmas.contains(name) ? nil : "PRAGMA \(name) is not allowed in a tenant scope"
        case SQLITE_ATTACH, SQLITE_DETACH:
            return "ATTACH and DETACH (and VACUUM INTO) are not allowed in a tenant scope"
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
            return "transaction statements are not allowed in a tenant scope; use the handle's transaction(_:) method"
        case SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE:
            return "virtual tables are not allowed in a tenant scope"
        default:
            return "schema changes (CREATE, DROP, ALTER, REINDEX, ANALYZE) are not allowed in a tenant scope; run migrations in the platform scope"
        }
    }

    private func tableDenialReason(action: Int32, table: String, context: String?) -> String? {
        let lowered = table.lowercased()
        if lowered.hasPrefix("tenancy_") {
            return "the library's table \(table) is not accessible in a tenant scope"
        }
        if Self.deniedTables.contains(lowered) {
            return "the table \(table) exposes data of every tenant and is not accessible in a tenant scope"
        }
        if action != SQLITE_READ && (lowered == "sqlite_schema" || lowered == "sqlite_master" || lowered == "sqlite_temp_master") {
            return "writing the schema table is not allowed in a tenant scope"
        }
        // One sqlite_sequence serves every AUTOINCREMENT table of the file, the audit trail's
        // included: setting a counter to the maximum makes every later insert into that table
        // fail, and reading it counts other tenants' activity. SQLite's own counter updates do
        // not pass the authorizer, so AUTOINCREMENT inserts still work.
        if mode == .pooledTenant, lowered == "sqlite_sequence" {
            return "the table sqlite_sequence contains counters of every tenant and is not accessible in a tenant scope"
        }
        if mode == .pooledTenant, lowered.hasSuffix(ProtectedTableNames.baseSuffix) {
            let view = String(table.dropLast(ProtectedTableNames.baseSuffix.count))
            let names = ProtectedTableNames(view: view)
            if let context, names.libraryObjects.contains(context) { return nil }
            return "the base table \(table) is not accessible in a tenant scope; use the view \(view)"
        }
        return nil
    }

    /// Whether the progress handler should interrupt the running statement.
    var deadlinePassed: Bool {
        deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline
    }
}

/// The names the library gives a protected table's objects: the view keeps the table's name,
/// the rows move to `<name>$rows`, and three `INSTEAD OF` triggers write through the view.
struct ProtectedTableNames: Hashable {
    static let baseSuffix = "$rows"

    let view: String
    var base: String { view + Self.baseSuffix }
    var insertTrigger: String { view + "$insert" }
    var updateTrigger: String { view + "$update" }
    var deleteTrigger: String { view + "$delete" }
    var triggers: [String] { [insertTrigger, updateTrigger, deleteTrigger] }
    /// The objects allowed to touch the base table in a tenant scope.
    var libraryObjects: Set<String> { Set([view] + triggers) }
}

private let currentTenantFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
    context, _, _ in
    guard let userData = sqlite3_user_data(context) else {
        sqlite3_result_null(context)
        return
    }
    let state = Unmanaged<ConnectionGuard>.fromOpaque(userData).takeUnretainedValue()
    guard let tenant = state.tenant else {
        sqlite3_result_null(context)
        return
    }
    tenant.withUnsafeBufferPointer { buffer in
        sqlite3_result_text(context, buffer.baseAddress, Int32(buffer.count - 1), tenancy_sqlite_transient())
    }
}

private let authorizerCallback: @convention(c) (
    UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?
) -> Int32 = { userData, action, first, second, _, context in
    guard let userData else { return SQLITE_DENY }
    let state = Unmanaged<ConnectionGuard>.fromOpaque(userData).takeUnretainedValue()
    return state.authorize(
        action: action, first.map { String(cString: $0) }, second.map { String(cString: $0) },
        context: context.map { String(cString: $0) })
}

private let progressCallback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { userData in
    guard let userData else { return 0 }
    return Unmanaged<ConnectionGuard>.fromOpaque(userData).takeUnretainedValue().deadlinePassed ? 1 : 0
}
