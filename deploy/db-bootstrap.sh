#!/usr/bin/env bash
# Least-privilege database roles: one login role per service, owning only its own schema.
# Idempotent; run once per database before the migrations, as a role that may create roles.
#   ADMIN_DATABASE_URL            postgresql://admin:...@host:5432/efficient
#   AUTH_DB_PASSWORD, TASKS_DB_PASSWORD, LOGS_DB_PASSWORD, KPI_DB_PASSWORD
# A service role can use and change its own schema and nothing else: no grant is made on the
# other schemas, and PostgreSQL 15+ no longer lets every role create objects in `public`.
set -euo pipefail

for service in auth tasks logs kpi; do
  password_var="${service^^}_DB_PASSWORD"
  password="${!password_var:?$password_var is not set}"
  psql "$ADMIN_DATABASE_URL" --set ON_ERROR_STOP=1 --quiet \
    --set role="${service}_svc" --set schema="$service" --set password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password';
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION :"role";
ALTER SCHEMA :"schema" OWNER TO :"role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
SQL
  echo "role ${service}_svc owns schema ${service}"
done
