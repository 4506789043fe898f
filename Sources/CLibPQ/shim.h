#ifndef TENANCY_CLIBPQ_SHIM_H
#define TENANCY_CLIBPQ_SHIM_H

#include <libpq-fe.h>

// libpq names the fields of an error report with character-literal macros (PG_DIAG_*), which
// Swift does not import, so they are repeated here as constants.

static const int tenancy_pg_diag_severity = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int tenancy_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int tenancy_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int tenancy_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int tenancy_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int tenancy_pg_diag_statement_position = PG_DIAG_STATEMENT_POSITION;
static const int tenancy_pg_diag_context = PG_DIAG_CONTEXT;
static const int tenancy_pg_diag_schema_name = PG_DIAG_SCHEMA_NAME;
static const int tenancy_pg_diag_table_name = PG_DIAG_TABLE_NAME;
static const int tenancy_pg_diag_column_name = PG_DIAG_COLUMN_NAME;
static const int tenancy_pg_diag_datatype_name = PG_DIAG_DATATYPE_NAME;
static const int tenancy_pg_diag_constraint_name = PG_DIAG_CONSTRAINT_NAME;

#endif
