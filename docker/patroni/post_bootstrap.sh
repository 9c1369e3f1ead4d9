#!/bin/sh
# Patroni's post_bootstrap hook: $1 is a superuser connection URL to the freshly initialised leader.
# The role's password matches docker/turnout/users.txt: Turnout logs in to PostgreSQL as the client.
set -eu
psql -v ON_ERROR_STOP=1 "$1" \
    -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE app LOGIN PASSWORD 'app'" \
    -c "CREATE DATABASE app OWNER app"
