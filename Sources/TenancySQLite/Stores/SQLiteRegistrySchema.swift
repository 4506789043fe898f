/// The registry's tables: tenants, the audit trail and deletion jobs.
///
/// Instants are integer milliseconds since 1970. The audit table rejects UPDATE and DELETE
/// with triggers (and an insert that would replace a record), so the trail stays append-only
/// for every client of the file that keeps the schema as the library made it.
enum SQLiteRegistrySchema {
    static let component = "registry"

    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, name: "create tenants, audit and purge jobs", sql: """
            CREATE TABLE tenancy_tenants (
                id TEXT PRIMARY KEY NOT NULL,
                name TEXT NOT NULL,
                tier TEXT NOT NULL,
                status TEXT NOT NULL,
                status_before_suspension TEXT,
                suspension_reason TEXT,
                config TEXT NOT NULL,
                admin_email TEXT,
                time_zone TEXT NOT NULL,
                placement TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                deleted_at INTEGER,
                metadata TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX tenancy_tenants_by_status ON tenancy_tenants (status, id);
            CREATE INDEX tenancy_tenants_by_tier ON tenancy_tenants (tier, id);

            CREATE TABLE tenancy_audit (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                time INTEGER NOT NULL,
                tenant_id TEXT,
                principal_id TEXT,
                action TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT
            );
            CREATE INDEX tenancy_audit_by_tenant ON tenancy_audit (tenant_id, sequence);
            CREATE TRIGGER tenancy_audit_no_update BEFORE UPDATE ON tenancy_audit
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
            CREATE TRIGGER tenancy_audit_no_delete BEFORE DELETE ON tenancy_audit
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;

            CREATE TABLE tenancy_purge_jobs (
                tenant_id TEXT PRIMARY KEY NOT NULL,
                started_at INTEGER NOT NULL,
                requested_by TEXT,
                steps TEXT NOT NULL,
                receipt TEXT
            ) WITHOUT ROWID;
            """),
        // `INSERT OR REPLACE` with an existing sequence deletes the old record without firing
        // delete triggers (SQLite fires them on REPLACE only with recursive_triggers on), so
        // an insert that names a taken sequence is rejected here.
        SQLiteMigration(version: 2, name: "reject audit inserts that replace a record", sql: """
            CREATE TRIGGER tenancy_audit_no_replace BEFORE INSERT ON tenancy_audit
            WHEN EXISTS (SELECT 1 FROM tenancy_audit WHERE sequence = NEW.sequence)
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
            """),
    ]

    static func migrate(_ database: SQLiteDatabase) async throws {
        try await database.migrate(component: component, migrations)
    }
}
