#ifndef TENANCY_CSQLITE_SHIM_H
#define TENANCY_CSQLITE_SHIM_H

#include <sqlite3.h>

// Swift cannot call C variadic functions or use function-pointer macros,
// so the parts of the SQLite API that need them are wrapped here.

/// SQLITE_TRANSIENT: SQLite copies the bound text or blob before returning.
static inline sqlite3_destructor_type tenancy_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

/// sqlite3_db_config for the boolean options (SQLITE_DBCONFIG_DEFENSIVE and friends).
static inline int tenancy_sqlite_db_config_bool(sqlite3 *db, int option, int enabled) {
    int current = 0;
    return sqlite3_db_config(db, option, enabled, &current);
}

#endif
