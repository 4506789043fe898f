# Installs the Debian packages the build and the tests need, when any is missing.
# Sourced by scripts/test and scripts/bench.

# python3 picks a free port and makes passwords in scripts/lib/postgres.sh;
# postgresql-server-dev-15 and make build the C binding check in postgres-extension/.
tenancy_required_packages=(pkg-config libsqlite3-dev libpq-dev libssl-dev postgresql postgresql-contrib postgresql-server-dev-15 make python3)

ensure_packages() {
    local missing=()
    local package
    for package in "${tenancy_required_packages[@]}" "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    echo "==> installing missing packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
