#!/bin/sh
# Writes the secrets docker-compose.yml reads, each a fresh random value, into
# deploy/compose/secrets/ (or the directory given), readable by you alone. Files that exist are
# kept: the PostgreSQL volume was initialised with the password they hold.
#
#   deploy/compose/init-secrets.sh && docker compose up
#
# What is written, and who reads it (docker-compose.yml, env_file and secrets):
#   postgres_password   PostgreSQL's superuser password (the postgres service, as a compose secret)
#   database.env        DATABASE_URL with that password: migrate, collector, dispatcher, api
#   auth.env            AUTH_JWT_SECRET (HS256): api, realtime-gateway; dev-token.sh signs with it
#   ingest-tokens.env   INGEST_TOKENS: api
#   ingest-token.env    INGEST_TOKEN, the same token: simulator, celery-bridge, bullmq-bridge
set -eu
dir=${1:-"$(dirname "$0")/secrets"}
mkdir -p "$dir"
umask 077

# 2n hex characters from the kernel's random source.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

if [ ! -f "$dir/postgres_password" ]; then
  random_hex 24 > "$dir/postgres_password"
fi
password=$(cat "$dir/postgres_password")
[ -f "$dir/database.env" ] || printf 'DATABASE_URL=postgresql://ssot:%s@postgres:5432/ssot\n' "$password" > "$dir/database.env"
[ -f "$dir/auth.env" ] || printf 'AUTH_JWT_SECRET=%s\n' "$(random_hex 32)" > "$dir/auth.env"

if [ ! -f "$dir/ingest-tokens.env" ] || [ ! -f "$dir/ingest-token.env" ]; then
  token="ingest-$(random_hex 24)"
  printf 'INGEST_TOKENS=%s\n' "$token" > "$dir/ingest-tokens.env"
  printf 'INGEST_TOKEN=%s\n' "$token" > "$dir/ingest-token.env"
fi
echo "secrets in $dir"
