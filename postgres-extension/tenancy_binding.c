/*
 * tenancy_binding: the verified tenant binding of the Tenancy library, in C.
 *
 * bind_tenant(tenant, tag) checks the tag (an HMAC-SHA256 of the tenant and a minute under the
 * secret in <schema>.binding_secret) and keeps the tenant in this backend's memory for the rest
 * of the transaction. bound_tenant(), which the row-level security policies call through
 * current_tenant(), returns it. The binding is in no setting, so SQL cannot forge one with
 * set_config, SET, RESET or DISCARD.
 *
 * A transaction that called bind_tenant also resets the session when it ends: RESET ALL,
 * SET ROLE NONE and the release of session advisory locks at commit, and the release of those
 * locks at abort (which already undoes the transaction's settings). So no state one tenant's
 * SQL leaves in a pooled session reaches the next tenant's statement, without a statement of
 * its own.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_statistic_ext_data.h"
#include "commands/sequence.h"
#include "common/hmac.h"
#include "common/pg_prng.h"
#include "common/sha2.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/fmgrprotos.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(tenancy_bind_tenant);
PG_FUNCTION_INFO_V1(tenancy_bound_tenant);

#define TAG_LENGTH 77
#define MINUTE_DIGITS 12

/*
 * The secret of the schema key_namespace, read from its binding_secret table on first use, after
 * any pg_proc change, and when bind_tenant of another schema runs: each installation of the
 * library's schema in a database has its own secret.
 */
static bool key_loaded = false;
static Oid	key_namespace = InvalidOid;
static uint8 key_bytes[64];
static size_t key_length = 0;

/*
 * Tags that verified under the current key, so a tenant's later statements within its minute
 * skip the HMAC: a direct-mapped table indexed by the code's first hex digits. A tag covers one
 * tenant and one minute, so each slot stores the pair. The minute is still checked every time.
 */
#define CACHE_SLOTS 256
#define CACHED_TENANT_MAX 127
typedef struct VerifiedTag
{
	char		tag[TAG_LENGTH];
	char		tenant[CACHED_TENANT_MAX + 1];
} VerifiedTag;
static VerifiedTag verified_tags[CACHE_SLOTS];

/*
 * The tenant bound in the transaction with local id bound_transaction by the bind_tenant of
 * schema bound_namespace, in TopMemoryContext. Only that schema's bound_tenant returns it.
 */
static char *bound = NULL;
static LocalTransactionId bound_transaction = InvalidLocalTransactionId;
static Oid	bound_namespace = InvalidOid;

/* Whether the current transaction called bind_tenant, so its end resets the session. */
static bool reset_pending = false;

/*
 * How many DO blocks and CALLs are running, counted by the utility hook. Only they can end a
 * transaction in the middle of a statement (COMMIT or ROLLBACK in the block), and the block then
 * goes on in a new transaction, which still runs the tenant's SQL. An error leaves the block,
 * and the count drops, before the transaction aborts.
 */
static int	block_depth = 0;

/*
 * The timer that ends the backend when a tenant transaction runs past the time that
 * bind_tenant's third argument gives. The pool cancels a statement at its time limit, but SQL
 * can catch a cancel (an EXCEPTION WHEN query_canceled block), and it cannot catch the FATAL
 * error that this timer raises.
 */
static TimeoutId termination_timeout;

/* Whether bind_tenant is reading the secret, which the permission hook lets through. */
static bool reading_key = false;

static ProcessUtility_hook_type next_process_utility = NULL;
static ExecutorCheckPerms_hook_type next_check_permissions = NULL;

static void
forget_key(Datum arg, int cacheid, uint32 hashvalue)
{
	explicit_bzero(key_bytes, sizeof(key_bytes));
	key_length = 0;
	key_loaded = false;
	key_namespace = InvalidOid;
	memset(verified_tags, 0, sizeof(verified_tags));
}

/* The schema of the called function, looked up once per call site. */
static Oid
function_namespace(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;

	if (flinfo->fn_extra == NULL)
	{
		Oid		   *namespace = MemoryContextAlloc(flinfo->fn_mcxt, sizeof(Oid));

		*namespace = get_func_namespace(flinfo->fn_oid);
		flinfo->fn_extra = namespace;
	}
	return *(Oid *) flinfo->fn_extra;
}

static VerifiedTag *
cache_slot(const char *tag)
{
	uint32		index = 0;
	int			i;

	for (i = 0; i < 4; i++)
		index = index * 31 + (unsigned char) tag[MINUTE_DIGITS + 1 + i];
	return &verified_tags[index % CACHE_SLOTS];
}

/* Whether the slot contains this tenant and tag. The tag is compared in constant time. */
static bool
cached(const char *tenant, size_t tenant_length, const char *tag)
{
	VerifiedTag *slot = cache_slot(tag);
	uint8		difference = 0;
	int			i;

	if (tenant_length > CACHED_TENANT_MAX || slot->tag[0] == '\0')
		return false;
	for (i = 0; i < TAG_LENGTH; i++)
		difference |= slot->tag[i] ^ tag[i];
	return difference == 0 && strcmp(slot->tenant, tenant) == 0;
}

static void
remember(const char *tenant, size_t tenant_length, const char *tag)
{
	VerifiedTag *slot = cache_slot(tag);

	if (tenant_length > CACHED_TENANT_MAX)
		return;
	memcpy(slot->tag, tag, TAG_LENGTH);
	memcpy(slot->tenant, tenant, tenant_length + 1);
}

static void
forget_binding(void)
{
	if (bound != NULL)
		pfree(bound);
	bound = NULL;
	bound_transaction = InvalidLocalTransactionId;
	bound_namespace = InvalidOid;
}

/*
 * The source of the seeds that the reset gives random(): seeded once per backend from the
 * strong random source, and never visible to SQL. Reading the strong source at every reset
 * cost about a seventh of the point-select rate in pgbench (43,000 against 50,000 statements/s).
 */
static pg_prng_state seed_source;
static bool seed_source_ready = false;

/*
 * Undoes the session state that a transaction's end does not undo. That is the sequence values
 * that lastval() and currval() return (DISCARD SEQUENCES), session advisory locks, and the seed
 * of random(). After setseed() or SET seed, the next tenant's random() values could be
 * predicted. nextval() and setseed() are not rolled back, so this also runs at abort.
 */
static void
reset_nontransactional_state(void)
{
	uint64		bits = pg_prng_uint64(&seed_source);

	ResetSequenceCaches();
	LockReleaseSession(USER_LOCKMETHOD);
	(void) DirectFunctionCall1(setseed, Float8GetDatum((double) (bits >> 11) / (double) (UINT64CONST(1) << 53) * 2.0 - 1.0));
}

/*
 * Ends the pending reset: disarms the termination timer. Inside a DO block that committed,
 * the reset stays pending, and the timer armed, for the transaction the block goes on in.
 */
static void
end_pending_reset(void)
{
	reset_pending = block_depth > 0;
	if (!reset_pending && get_timeout_active(termination_timeout))
		disable_timeout(termination_timeout, false);
}


/* Runs RESET ALL, SET ROLE NONE and reset_nontransactional_state, at commit. */
static void
reset_session(void)
{
	ResetAllOptions();
	(void) set_config_option("role", "none", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	reset_nontransactional_state();
}

/*
 * Ends the transaction's binding, and resets the session when the transaction called
 * bind_tenant. A COMMIT or ROLLBACK inside a DO block ends the transaction in the middle of the
 * tenant's statement. The block goes on in a new transaction without a binding, so the reset,
 * the rejections and the termination timer stay pending for that one (see block_depth).
 */
static void
transaction_ends(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			forget_binding();
			if (reset_pending)
			{
				reset_session();
				end_pending_reset();
			}
			break;
		case XACT_EVENT_ABORT:
			forget_binding();
			if (reset_pending)
			{
				reset_nontransactional_state();
				end_pending_reset();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			forget_binding();
			break;
		default:
			break;
	}
}

/*
 * The name of a command that tenant SQL may not run in a transaction that called bind_tenant,
 * or NULL. Each leaves state that the reset cannot undo, or reaches other tenants:
 * - ALTER ROLE and ALTER DEFAULT PRIVILEGES change the role every tenant shares.
 * - PREPARE and WITH HOLD cursors stay on the pooled session under names the next tenant's SQL
 *   can use, and LISTEN keeps a subscription there.
 * - LOCK on a shared table blocks every tenant, and so would a transaction prepared with
 *   PREPARE TRANSACTION, which keeps its locks after the session moves on.
 * - EXPLAIN shows the rows the policy filtered out ("Rows Removed by Filter"), and estimates
 *   from every tenant's column statistics.
 */
static const char *
rejected_command(Node *statement)
{
	switch (nodeTag(statement))
	{
		case T_AlterRoleStmt:
		case T_AlterRoleSetStmt:
			return "ALTER ROLE";
		case T_PrepareStmt:
			return "PREPARE";
		case T_ListenStmt:
			return "LISTEN";
		case T_LockStmt:
			return "LOCK";
		case T_AlterDefaultPrivilegesStmt:
			return "ALTER DEFAULT PRIVILEGES";
		case T_ExplainStmt:
			return "EXPLAIN";
		case T_TransactionStmt:
			if (((TransactionStmt *) statement)->kind == TRANS_STMT_PREPARE)
				return "PREPARE TRANSACTION";
			return NULL;
		case T_DeclareCursorStmt:
			if ((((DeclareCursorStmt *) statement)->options & CURSOR_OPT_HOLD) != 0)
				return "DECLARE ... WITH HOLD";
			return NULL;
		default:
			return NULL;
	}
}

static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (next_process_utility != NULL)
		next_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

static void
check_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	const char *command = reset_pending ? rejected_command(pstmt->utilityStmt) : NULL;

	if (command != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenancy binding: a tenant transaction cannot run %s", command),
				 errdetail("It leaves state on the pooled session or the shared role that outlives the transaction.")));
	if (!IsA(pstmt->utilityStmt, DoStmt) && !IsA(pstmt->utilityStmt, CallStmt))
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	block_depth++;
	PG_TRY();
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		block_depth--;
	}
	PG_END_TRY();
}

/*
 * Whether a relation is one of the library's own tables (registry, audit, quotas, the list of
 * protected tables): in a schema that has the library's tenancy_migrations table, and without
 * forced row-level security, which every protected tenant table has. The planner statistics
 * count too: pg_stats shows sampled values of every table the role can read that has no
 * active row-level security, the library's tables among them.
 */
static bool
library_relation(Oid relation)
{
	HeapTuple	tuple;
	Form_pg_class form;
	bool		result;

	if (relation == StatisticRelationId || relation == StatisticExtDataRelationId)
		return true;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relation));

	if (!HeapTupleIsValid(tuple))
		return false;
	form = (Form_pg_class) GETSTRUCT(tuple);
	result = !(form->relrowsecurity && form->relforcerowsecurity)
		&& OidIsValid(get_relname_relid("tenancy_migrations", form->relnamespace));
	ReleaseSysCache(tuple);
	return result;
}

/*
 * Rejects, in a transaction that called bind_tenant, any statement that reads or changes a
 * library table. The application role has grants on them for the library's own statements,
 * which bind no tenant, and tenant SQL runs as the same role.
 */
static bool
check_permissions(List *range_table, bool ereport_on_violation)
{
	ListCell   *cell;

	if (reset_pending && !reading_key)
	{
		foreach(cell, range_table)
		{
			RangeTblEntry *entry = lfirst_node(RangeTblEntry, cell);

			if (entry->rtekind != RTE_RELATION || !library_relation(entry->relid))
				continue;
			if (!ereport_on_violation)
				return false;
			if (entry->relid == StatisticRelationId || entry->relid == StatisticExtDataRelationId)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("tenancy binding: a tenant transaction cannot read the planner statistics in pg_catalog.%s", get_rel_name(entry->relid)),
						 errdetail("The statistics sample the values of every tenant's rows.")));
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("tenancy binding: a tenant transaction cannot use the library table %s.%s",
							get_namespace_name(get_rel_namespace(entry->relid)), get_rel_name(entry->relid)),
					 errdetail("The registry, audit and quota tables cover every tenant.")));
		}
	}
	if (next_check_permissions != NULL)
		return next_check_permissions(range_table, ereport_on_violation);
	return true;
}

/*
 * Arms the termination timer to fire ends_after milliseconds from now, when it is positive:
 * always when may_delay, else only when that is earlier than the armed time. A transaction of
 * several statements, each bound again, so gets its time from its latest statement.
 */
static void
arm_termination(int ends_after, bool may_delay)
{
	if (ends_after <= 0)
		return;
	if (may_delay || !get_timeout_active(termination_timeout)
		|| TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ends_after) < get_timeout_finish_time(termination_timeout))
		enable_timeout_after(termination_timeout, ends_after);
}

/* Ends the backend with FATAL, as pg_terminate_backend does; runs in a signal handler. */
static void
transaction_overran(void)
{
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

void
_PG_init(void)
{
	termination_timeout = RegisterTimeout(USER_TIMEOUT, transaction_overran);
	CacheRegisterSyscacheCallback(PROCOID, forget_key, (Datum) 0);
	RegisterXactCallback(transaction_ends, NULL);
	next_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = check_utility;
	next_check_permissions = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = check_permissions;
}

static void
load_key(Oid namespace)
{
	char	   *schema = get_namespace_name(namespace);
	StringInfoData query;
	int			executed;

	if (schema == NULL)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION), errmsg("tenancy binding: cannot find the schema of bind_tenant()")));
	initStringInfo(&query);
	appendStringInfo(&query, "SELECT k.key FROM %s.binding_secret AS k", quote_identifier(schema));
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("tenancy binding: SPI_connect failed")));
	reading_key = true;
	PG_TRY();
	{
		executed = SPI_execute(query.data, true, 1);
	}
	PG_FINALLY();
	{
		reading_key = false;
	}
	PG_END_TRY();
	if (executed == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			bytea	   *key = DatumGetByteaPP(value);
			size_t		length = VARSIZE_ANY_EXHDR(key);

			if (length >= 32 && length <= 64)
			{
				memcpy(key_bytes, VARDATA_ANY(key), length);
				key_length = length;
				key_namespace = namespace;
				key_loaded = true;
			}
		}
	}
	SPI_finish();
	if (!key_loaded)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("tenancy binding: no binding secret is stored in %s.binding_secret", schema),
				 errhint("Install the verified binding with the secret the application uses.")));
}

/* Whether tag is the HMAC-SHA256 of "<tenant>:<its minute digits>" under the key, in hex. */
static bool
tag_verifies(const char *tenant, size_t tenant_length, const char *tag)
{
	static const char digits[] = "0123456789abcdef";
	uint8		code[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *context = pg_hmac_create(PG_SHA256);
	uint8		difference = 0;
	bool		computed;
	int			i;

	if (context == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("tenancy binding: cannot create an HMAC context")));
	computed = pg_hmac_init(context, key_bytes, key_length) == 0
		&& pg_hmac_update(context, (const uint8 *) tenant, tenant_length) == 0
		&& pg_hmac_update(context, (const uint8 *) ":", 1) == 0
		&& pg_hmac_update(context, (const uint8 *) tag, MINUTE_DIGITS) == 0
		&& pg_hmac_final(context, code, sizeof(code)) == 0;
	pg_hmac_free(context);
	if (!computed)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("tenancy binding: HMAC-SHA256 failed")));
	/* Every byte is compared, so the time taken does not say how much of a forged tag matched. */
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		difference |= tag[MINUTE_DIGITS + 1 + 2 * i] ^ digits[code[i] >> 4];
		difference |= tag[MINUTE_DIGITS + 2 + 2 * i] ^ digits[code[i] & 0x0F];
	}
	explicit_bzero(code, sizeof(code));
	return difference == 0;
}

/* The minute of the transaction's start, in minutes since 1970 UTC, rounded down. */
static int64
transaction_minute(void)
{
	int64		microseconds = GetCurrentTransactionStartTimestamp()
		+ (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
	int64		minute = microseconds / (60 * USECS_PER_SEC);

	if (microseconds < 0 && microseconds % (60 * USECS_PER_SEC) != 0)
		minute -= 1;
	return minute;
}

/*
 * bind_tenant(tenant text, tag text, ends_after_milliseconds bigint DEFAULT 0) RETURNS void
 *
 * An empty or NULL tenant binds no tenant. Otherwise the tag must be 77 characters: the minute
 * (12 digits, within one of the transaction's), a colon, and the HMAC in lowercase hex. A
 * positive ends_after_milliseconds arms the termination timer, or moves it earlier; no call
 * moves it later or disarms it.
 */
Datum
tenancy_bind_tenant(PG_FUNCTION_ARGS)
{
	text	   *tenant_text;
	text	   *tag_text;
	char	   *tenant;
	char	   *tag;
	int64		minute = 0;
	int64		current;
	Oid			namespace;
	int			ends_after;
	int			i;

	/* Seeded here rather than in _PG_init, where an error would leave the library half set up. */
	if (!seed_source_ready)
	{
		if (!pg_prng_strong_seed(&seed_source))
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("tenancy binding: cannot read the strong random source")));
		seed_source_ready = true;
	}
	/* Set first, so every transaction that reaches this call resets its session, even when it fails. */
	reset_pending = true;
	forget_binding();
	ends_after = PG_NARGS() > 2 && !PG_ARGISNULL(2) ? (int) Min(Max(PG_GETARG_INT64(2), 0), (int64) PG_INT32_MAX) : 0;
	if (PG_ARGISNULL(0) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
	{
		arm_termination(ends_after, false);
		PG_RETURN_VOID();
	}
	tenant_text = PG_GETARG_TEXT_PP(0);
	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("tenancy binding: missing tag")));
	tag_text = PG_GETARG_TEXT_PP(1);
	tenant = text_to_cstring(tenant_text);
	tag = text_to_cstring(tag_text);
	if (strlen(tenant) != VARSIZE_ANY_EXHDR(tenant_text) || strlen(tag) != TAG_LENGTH || tag[MINUTE_DIGITS] != ':')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("tenancy binding: malformed tag"),
				 errdetail("A tag is 12 digits of minute, a colon and 64 lowercase hexadecimal digits.")));
	for (i = 0; i < MINUTE_DIGITS; i++)
	{
		if (tag[i] < '0' || tag[i] > '9')
			ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("tenancy binding: malformed tag")));
		minute = minute * 10 + (tag[i] - '0');
	}
	namespace = function_namespace(fcinfo);
	if (!key_loaded || key_namespace != namespace)
	{
		forget_key((Datum) 0, PROCOID, 0);
		load_key(namespace);
	}
	if (!cached(tenant, strlen(tenant), tag))
	{
		if (!tag_verifies(tenant, strlen(tenant), tag))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("tenancy binding: the tag does not verify under the stored binding secret"),
					 errhint("The application's TENANCY_BINDING_SECRET must be the secret stored at install time.")));
		remember(tenant, strlen(tenant), tag);
	}
	current = transaction_minute();
	if (minute > current + 1 || minute < current - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("tenancy binding: the tag's minute " INT64_FORMAT " is more than one minute from the server's " INT64_FORMAT, minute, current),
				 errhint("Synchronize the application's and the database server's clocks.")));
	bound = MemoryContextStrdup(TopMemoryContext, tenant);
	bound_transaction = MyProc->lxid;
	bound_namespace = namespace;
	/* Only the library can make a tag that verifies, so only it may give a later end. */
	arm_termination(ends_after, true);
	PG_RETURN_VOID();
}

/*
 * bound_tenant() RETURNS text: the tenant bind_tenant bound in this transaction, or NULL.
 */
Datum
tenancy_bound_tenant(PG_FUNCTION_ARGS)
{
	if (bound == NULL || bound_transaction != MyProc->lxid || bound_namespace != function_namespace(fcinfo))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(bound));
}
