#!/bin/sh
# Installs a STARS runtime release on a server and starts it under systemd, with nothing but the OS image:
# the release (wheel + wheelhouse, built by `python -m runtime.deploy.release`) comes from the private
# bucket through the VPC's S3 endpoint, its digest is checked, and pip installs it with --no-index.
#
# Input (environment):
#   AWS_REGION               region of the bucket and the secrets
#   STARS_RELEASE_URI        s3://bucket/releases/stars-runtime-<version>-<sha256>.tar
#   STARS_RELEASE_SHA256     the artifact's SHA-256; anything else is refused
#   STARS_AWSGET             the standard-library S3 / Secrets Manager reader (awsget.py) the user data wrote
#   STARS_JWT_SECRET_ARN     Secrets Manager secret holding the JWT secret (plain string)
#   STARS_DB_SECRET_ARN      RDS-managed master user secret (JSON with username and password)
#   STARS_DB_ENDPOINT        host:port of the database;  STARS_DB_NAME (default: stars)
#   STARS_REDIS_ENDPOINT     host:port of Redis;  STARS_REDIS_AUTH_SECRET_ARN (optional auth token)
#   STARS_REDIS_TLS          1 (default, ElastiCache in-transit encryption) or 0
#   STARS_HOST, STARS_PORT, STARS_WORKERS   where and how to serve (0.0.0.0, 8000, CPU count)
#   STARS_PYTHON             interpreter for the virtualenv (default: python3.11, else python3; >= 3.11)
# Every failure is one line starting "bootstrap: error:" and a non-zero exit, before the service is
# enabled: a refused release, an unreadable secret or an unreachable database leave nothing running.
# Secrets are read at boot with the instance role and written only to /etc/stars/runtime.env (0640).
set -eu

OPT=/opt/stars
VENV="$OPT/venv"
ENV_FILE=/etc/stars/runtime.env
STATE=/var/lib/stars
UNIT=stars-runtime.service

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { eval "[ -n \"\${$1:-}\" ]" || die "$1 is required"; }

[ -n "${STARS_RELEASE_URI:-}" ] && [ -n "${STARS_RELEASE_SHA256:-}" ] \
  || die "no release artifact was named at deploy time (build it with make release, then pulumi up)"
for name in AWS_REGION STARS_AWSGET STARS_JWT_SECRET_ARN STARS_DB_SECRET_ARN STARS_DB_ENDPOINT \
  STARS_REDIS_ENDPOINT; do
  need "$name"
done
PY="${STARS_PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$PY" ] || die "python3 is required"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PY is older than Python 3.11"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The reader's own line ("awsget: <why>") becomes the reason in ours: one line per failure.
aws() { "$PY" "$STARS_AWSGET" "$@" 2>"$WORK/aws.err"; }
why() { sed -e 's/^awsget: //' "$WORK/aws.err" | head -n 1; }
secret() { aws secret "$1" || die "$(why)"; }

# 1. The release: fetch, check the digest, check every file against the manifest.
log "fetching $STARS_RELEASE_URI"
aws s3 "$STARS_RELEASE_URI" "$WORK/release.tar" || die "$(why)"
GOT="$(sha256sum "$WORK/release.tar" | cut -d' ' -f1)"
[ "$GOT" = "$STARS_RELEASE_SHA256" ] \
  || die "release digest mismatch: expected $STARS_RELEASE_SHA256, got $GOT; refusing to install"
mkdir "$WORK/release"
tar -xf "$WORK/release.tar" -C "$WORK/release" --no-same-owner || die "release archive is corrupt"
REL="$(find "$WORK/release" -mindepth 1 -maxdepth 1 -type d -name 'stars-runtime-*' | head -n 1)"
[ -n "$REL" ] && [ -f "$REL/SHA256SUMS" ] || die "release has no stars-runtime-*/SHA256SUMS manifest"
(cd "$REL" && sha256sum --check --quiet --strict SHA256SUMS >/dev/null 2>&1) \
  || die "release files do not match its SHA256SUMS manifest; refusing to install"
PIP_WHEEL="$(find "$REL/wheels" -name 'pip-*.whl' | head -n 1)"
[ -n "$PIP_WHEEL" ] || die "release carries no pip wheel"

# 2. The secrets, before anything is installed (a missing one stops the boot here).
JWT_SECRET="$(secret "$STARS_JWT_SECRET_ARN")"
DB_JSON="$(secret "$STARS_DB_SECRET_ARN")"
REDIS_TOKEN=""
if [ -n "${STARS_REDIS_AUTH_SECRET_ARN:-}" ]; then
  REDIS_TOKEN="$(secret "$STARS_REDIS_AUTH_SECRET_ARN")"
fi
DB_JSON="$DB_JSON" "$PY" -c 'import json, os; d = json.loads(os.environ["DB_JSON"]); d["username"] + d["password"]' \
  2>/dev/null || die "secret $STARS_DB_SECRET_ARN is not JSON with a username and a password"

# 3. The database must answer before anything is installed (the schema is migrated after).
"$PY" - "$STARS_DB_ENDPOINT" 2>"$WORK/db.err" <<'PYEOF' \
  || die "database $STARS_DB_ENDPOINT unreachable: $(tail -n1 "$WORK/db.err")"
import socket, sys

host, _, port = sys.argv[1].rpartition(":")
try:
    socket.create_connection((host, int(port)), timeout=10).close()
except (OSError, ValueError) as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
PYEOF

# 4. A virtualenv from the wheelhouse alone (the image's Python has no ensurepip: pip runs from its wheel).
log "installing $(basename "$REL") offline"
rm -rf "$VENV"
"$PY" -m venv --without-pip "$VENV"
"$VENV/bin/python" "$PIP_WHEEL/pip" install -q --disable-pip-version-check --no-index \
  --no-cache-dir --find-links "$REL/wheels" -r "$REL/requirements.txt" >"$WORK/pip.log" 2>&1 \
  || die "pip could not install the release offline: $(grep -m1 ERROR "$WORK/pip.log" || tail -n1 "$WORK/pip.log")"

# 5. The environment file (systemd's syntax), readable by the service only.
mkdir -p "$(dirname "$ENV_FILE")" "$STATE"
umask 077
DB_JSON="$DB_JSON" REDIS_TOKEN="$REDIS_TOKEN" JWT_SECRET="$JWT_SECRET" "$VENV/bin/python" - "$ENV_FILE" <<'PYEOF' \
  || die "the database secret is not JSON with a username and a password"
import json, os, sys
from urllib.parse import quote

env = os.environ
try:
    db = json.loads(env["DB_JSON"])
    user, password = quote(db["username"], safe=""), quote(db["password"], safe="")
except (ValueError, KeyError, TypeError):
    sys.exit(1)
database = env.get("STARS_DB_NAME") or db.get("dbname") or "stars"
redis_scheme = "rediss" if env.get("STARS_REDIS_TLS", "1") == "1" else "redis"
token = env.get("REDIS_TOKEN", "")
auth = f":{quote(token, safe='')}@" if token else ""
values = {
    "STARS_DATABASE_URL": f"postgresql://{user}:{password}@{env['STARS_DB_ENDPOINT']}/{database}",
    "STARS_REDIS_URL": f"{redis_scheme}://{auth}{env['STARS_REDIS_ENDPOINT']}/0",
    "STARS_JWT_SECRET": env["JWT_SECRET"],
    "STARS_HOST": env.get("STARS_HOST") or "0.0.0.0",
    "STARS_PORT": env.get("STARS_PORT") or "8000",
    "STARS_WORKERS": env.get("STARS_WORKERS") or str(os.cpu_count() or 1),
}
for key in ("STARS_DB_POOL_SIZE", "STARS_DB_MAX_OVERFLOW", "STARS_QUEUE_MESSAGES", "STARS_QUEUE_BYTES", "STARS_DRAIN_GRACE"):
    if env.get(key):
        values[key] = env[key]
with open(sys.argv[1], "w") as f:  # systemd EnvironmentFile syntax: double quotes, \\ and \" escaped
    for key, value in values.items():
        if "\n" in value:
            raise SystemExit(f"{key} contains a newline")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        f.write(f'{key}="{quoted}"\n')
PYEOF
umask 022

# 6. The schema, before the service exists: a database that refuses it stops the boot here.
"$VENV/bin/python" - "$ENV_FILE" >"$WORK/migrate.log" 2>&1 <<'PYEOF' \
  || die "database $STARS_DB_ENDPOINT unreachable or refused the migration: $(tail -n1 "$WORK/migrate.log")"
import os, re, subprocess, sys

for line in open(sys.argv[1]):  # the values exactly as systemd reads them (no shell expansion)
    key, _, raw = line.rstrip("\n").partition("=")
    os.environ[key] = re.sub(r"\\(.)", r"\1", raw[1:-1])
try:
    sys.exit(subprocess.run([sys.executable, "-m", "runtime", "migrate"], timeout=90).returncode)
except subprocess.TimeoutExpired:
    sys.exit("no answer within 90 s")
PYEOF

# 7. The unit, then enable and start it.
id stars >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin stars
chown root:stars "$ENV_FILE"
chmod 640 "$ENV_FILE"
chown -R stars:stars "$STATE"
"$VENV/bin/python" -c 'import runtime.deploy as d; print(d.UNIT.read_text(), end="")' \
  >"/etc/systemd/system/$UNIT"
systemctl daemon-reload
systemctl enable --now "$UNIT"
log "stars-runtime $(basename "$REL") enabled and started"
