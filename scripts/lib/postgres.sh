# Starts a throwaway PostgreSQL server for the tests, on a free loopback port in a temporary
# directory, and stops it when the calling script exits. Sourced by scripts/test and
# scripts/bench.
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
# Exports:
#   TENANCY_TEST_POSTGRES_URL              the application role (no owner rights, no BYPASSRLS)
#   TENANCY_TEST_POSTGRES_OWNER_URL        the owner role (migrations, protecting tables)
#   TENANCY_TEST_POSTGRES_MAINTENANCE_URL  a role with BYPASSRLS for platform-wide reads
#   TENANCY_TEST_POSTGRES_ADMIN_URL        the superuser, for tests that create bad roles on purpose

postgres_bindir() {
    local dir
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -z "$dir" ] || [ ! -x "$dir/pg_ctl" ]; then
        dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
    [ -x "$dir/pg_ctl" ] || { echo "error: pg_ctl not found; install the postgresql package" >&2; return 1; }
    echo "$dir"
}

as_postgres_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_loopback_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

random_password() {
    python3 -c 'import secrets; print(secrets.token_hex(16))'
}

stop_postgres() {
    if [ -n "${TENANCY_PG_DIR:-}" ] && [ -d "$TENANCY_PG_DIR" ]; then
        as_postgres_user "$TENANCY_PG_BIN/pg_ctl" -D "$TENANCY_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$TENANCY_PG_DIR"
    fi
}

# Builds the C binding check (postgres-extension/) in a temporary directory, so the checkout
# stays clean, and installs it into the server's library directory, which needs root.
install_binding_library() {
    local build sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    build=$(mktemp -d /tmp/tenancy-binding-build.XXXXXX)
    cp postgres-extension/Makefile postgres-extension/tenancy_binding.c "$build/"
    if ! make -C "$build" >"$build/make.log" 2>&1 || ! $sudo make -C "$build" install >>"$build/make.log" 2>&1; then
        cat "$build/make.log" >&2
        rm -rf "$build"
        return 1
    fi
    rm -rf "$build"
    echo "==> installed the tenancy_binding library into $(pg_config --pkglibdir)"
}

start_postgres() {
    install_binding_library
    TENANCY_PG_BIN=$(postgres_bindir)
    TENANCY_PG_DIR=$(mktemp -d /tmp/tenancy-postgres.XXXXXX)
    chmod 755 "$TENANCY_PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$TENANCY_PG_DIR"
    trap stop_postgres EXIT

    local port admin_password app_password owner_password maintenance_password
    port=$(free_loopback_port)
    admin_password=$(random_password)
    app_password=$(random_password)
    owner_password=$(random_password)
    maintenance_password=$(random_password)

    as_postgres_user bash -c "echo '$admin_password' > '$TENANCY_PG_DIR/pwfile'"
    as_postgres_user "$TENANCY_PG_BIN/initdb" -D "$TENANCY_PG_DIR/data" -U postgres --auth=scram-sha-256 \
        --pwfile="$TENANCY_PG_DIR/pwfile" -E UTF8 --locale=C.UTF-8 >"$TENANCY_PG_DIR/initdb.log" 2>&1 \
        || { cat "$TENANCY_PG_DIR/initdb.log" >&2; return 1; }
    as_postgres_user "$TENANCY_PG_BIN/pg_ctl" -D "$TENANCY_PG_DIR/data" -l "$TENANCY_PG_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$TENANCY_PG_DIR' -c max_connections=200 -c fsync=off" \
        start >/dev/null || { cat "$TENANCY_PG_DIR/server.log" >&2; return 1; }

    PGPASSWORD="$admin_password" "$TENANCY_PG_BIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
CREATE ROLE tenancy_owner LOGIN PASSWORD '$owner_password';
CREATE ROLE tenancy_app LOGIN PASSWORD '$app_password';
CREATE ROLE tenancy_maintenance LOGIN BYPASSRLS PASSWORD '$maintenance_password';
CREATE DATABASE tenancy_test OWNER tenancy_owner;
REVOKE TEMPORARY ON DATABASE tenancy_test FROM PUBLIC;
\c tenancy_test
REVOKE SELECT ON pg_catalog.pg_prepared_statements FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_prepared_statement() FROM PUBLIC;
REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
SQL

    local base="127.0.0.1:$port/tenancy_test"
    export TENANCY_TEST_POSTGRES_URL="postgres://tenancy_app:$app_password@$base"
    export TENANCY_TEST_POSTGRES_OWNER_URL="postgres://tenancy_owner:$owner_password@$base"
    export TENANCY_TEST_POSTGRES_MAINTENANCE_URL="postgres://tenancy_maintenance:$maintenance_password@$base"
    export TENANCY_TEST_POSTGRES_ADMIN_URL="postgres://postgres:$admin_password@$base"
    export TENANCY_TEST_REQUIRE_BACKENDS=1
    echo "==> PostgreSQL $("$TENANCY_PG_BIN/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port"
}
