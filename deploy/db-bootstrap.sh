#!/usr/bin/env bash
# Create (or update) the PostgreSQL role and schema of each Efficient System service.
#
# Reads, from the environment or else from the file of that name in $SECRETS_DIR (the Job
# mounts the Secret db-bootstrap there, so no secret travels through the environment):
#   ADMIN_DATABASE_URL  libpq URL of a role that may create roles and schemas in the
#                       application database (the name deploy/db-bootstrap.sh uses), e.g.
#                       postgresql://postgres:...@db-host:5432/efficient?sslmode=require
#                       (CloudNativePG's superuser, or a managed database's admin user)
#   AUTH_DB_PASSWORD TASKS_DB_PASSWORD LOGS_DB_PASSWORD KPI_DB_PASSWORD HOOKS_DB_PASSWORD
#                       the password of each service's role; the same password goes into
#                       that service's DATABASE_URL (Secret <service>-secrets)
#
# For each service <svc> in auth, tasks, logs, kpi, hooks:
#   - role <svc>_svc: LOGIN, no other attribute (not superuser, cannot create databases or
#     roles); created if missing, its password set on every run;
#   - schema <svc>, owned by <svc>_svc: the role may do anything there and nothing elsewhere.
#     No other role gets USAGE on it, so tasks_svc cannot read auth.users.
#   - for the services that keep a read model (tasks, logs, kpi), schema <svc>_replay, owned
#     by <svc>_svc too: where a replay builds the read model's next generation before it
#     moves it into <svc> (`make replay`; service roles may not create schemas themselves).
# Nothing is revoked: since PostgreSQL 15 the `public` schema no longer grants CREATE to
# PUBLIC, so a service role cannot create objects outside its schema. On PostgreSQL 14 or
# older, run once as the admin: REVOKE CREATE ON SCHEMA public FROM PUBLIC;
# The password is sent to the server in an ALTER ROLE statement: keep log_statement below
# `ddl` on the server, or the log shows it.
set -euo pipefail

SECRETS_DIR="${SECRETS_DIR:-/var/run/secrets/db-bootstrap}"
SERVICES=(auth tasks logs kpi hooks)

value() {  # the value of setting $1: the environment first, else $SECRETS_DIR/$1
  local name=$1
  if [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
  elif [[ -s "$SECRETS_DIR/$name" ]]; then
    cat "$SECRETS_DIR/$name"
  else
    echo "db-bootstrap: $name is not set (environment or $SECRETS_DIR/$name)" >&2
    return 1
  fi
}

# Read and check every input before changing anything.
admin_url=$(value ADMIN_DATABASE_URL)
declare -A passwords
for svc in "${SERVICES[@]}"; do
  passwords[$svc]=$(value "${svc^^}_DB_PASSWORD")
  case "${passwords[$svc],,}" in
    change-me | changeme | password | secret)
      echo "db-bootstrap: ${svc^^}_DB_PASSWORD is a placeholder; set a real password" >&2
      exit 1 ;;
  esac
done

for svc in "${SERVICES[@]}"; do
  case $svc in tasks | logs | kpi) shadow="${svc}_replay" ;; *) shadow="" ;; esac
  # The password reaches psql through its environment (\getenv), not its command line.
  BOOTSTRAP_PASSWORD="${passwords[$svc]}" psql "$admin_url" \
    --no-psqlrc --quiet --set ON_ERROR_STOP=1 \
    --set role="${svc}_svc" --set schema="$svc" --set shadow="$shadow" <<'SQL'
SET client_min_messages = warning;
\getenv password BOOTSTRAP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password') \gexec
-- An admin that is not a superuser (a managed database's) must be able to SET ROLE to the
-- role to make it a schema's owner: grant itself that membership (PostgreSQL 16 syntax
-- first; older versions grant membership with plain GRANT).
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000
            THEN format('GRANT %I TO CURRENT_USER WITH INHERIT FALSE, SET TRUE', :'role')
            ELSE format('GRANT %I TO CURRENT_USER', :'role') END
 WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'role') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'shadow', :'role')
 WHERE :'shadow' <> '' \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'shadow', :'role') WHERE :'shadow' <> '' \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'shadow') WHERE :'shadow' <> '' \gexec
SQL
  echo "db-bootstrap: role ${svc}_svc and schema ${svc} are ready"
done
