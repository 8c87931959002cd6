#!/bin/sh
# First start of the primary (docker-entrypoint-initdb.d): the application role and its
# database, the replication role and slot, and a monitoring role for postgres_exporter.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v app_password="$FTW_DB_PASSWORD" \
  -v replication_password="$REPLICATION_PASSWORD" \
  -v exporter_password="$EXPORTER_PASSWORD" <<'SQL'
CREATE ROLE ftw LOGIN PASSWORD :'app_password';
CREATE DATABASE ftw OWNER ftw;
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'replication_password';
SELECT pg_create_physical_replication_slot('replica1');
CREATE ROLE exporter LOGIN PASSWORD :'exporter_password' IN ROLE pg_monitor;
SQL
# Query statistics for every database, read by postgres_exporter from `postgres`
# (kept out of the application database, so its dumps carry only our schema).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
