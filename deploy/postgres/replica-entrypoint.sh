#!/bin/sh
# Streaming replica: on first start clone the primary with pg_basebackup (which writes
# standby.signal and primary_conninfo), then run as a hot standby on slot replica1.
# Starts as root only to own its data folder, then drops to the postgres user.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:=postgres-primary}"

install -d -o postgres -g postgres -m 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until gosu postgres pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
  PGPASSWORD="$REPLICATION_PASSWORD" gosu postgres pg_basebackup \
    --host="$PRIMARY_HOST" --username=replicator --pgdata="$PGDATA" \
    --wal-method=stream --write-recovery-conf --slot=replica1 --checkpoint=fast
fi
exec gosu postgres postgres \
  -c config_file=/etc/postgresql/postgresql.conf -c hba_file=/etc/postgresql/pg_hba.conf
