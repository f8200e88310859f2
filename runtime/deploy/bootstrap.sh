#!/bin/sh
# Installs the STARS runtime on a server and starts it under systemd.
#
# Input (environment):
#   STARS_RELEASE_URL        tar.gz of the repository to install, or
#   STARS_SOURCE_DIR         a local checkout (takes precedence)
#   AWS_REGION               region of the secrets
#   STARS_JWT_SECRET_ARN     Secrets Manager secret holding the JWT secret (plain string)
#   STARS_DB_SECRET_ARN      RDS-managed master user secret (JSON with username and password)
#   STARS_DB_ENDPOINT        host:port of the database;  STARS_DB_NAME (default: stars)
#   STARS_REDIS_ENDPOINT     host:port of Redis;  STARS_REDIS_AUTH_SECRET_ARN (optional auth token)
#   STARS_REDIS_TLS          1 (default, ElastiCache in-transit encryption) or 0
#   STARS_HOST, STARS_PORT, STARS_WORKERS   where and how to serve (0.0.0.0, 8000, CPU count)
#   STARS_BOOTSTRAP_ROOT     local mode: install under this directory, no user, no systemctl
#   STARS_VENV               virtualenv to use (default: <root>/opt/stars/venv)
#   STARS_PYTHON             interpreter for the virtualenv (default: python3.11, else python3; >= 3.11)
# Secrets are read at boot with the instance role and written only to <root>/etc/stars/runtime.env (0600).
set -eu

ROOT="${STARS_BOOTSTRAP_ROOT:-}"
APP="$ROOT/opt/stars/app"
VENV="${STARS_VENV:-$ROOT/opt/stars/venv}"
ENV_DIR="$ROOT/etc/stars"
ENV_FILE="$ENV_DIR/runtime.env"
STATE="$ROOT/var/lib/stars"
UNIT_DIR="$ROOT/etc/systemd/system"

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { eval "[ -n \"\${$1:-}\" ]" || die "$1 is required"; }

secret() {  # secret ARN -> SecretString on stdout
  aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$1" \
    --query SecretString --output text
}

need AWS_REGION
need STARS_JWT_SECRET_ARN
need STARS_DB_SECRET_ARN
need STARS_DB_ENDPOINT
need STARS_REDIS_ENDPOINT
# Python 3.11 (Amazon Linux 2023: the python3.11 package; Debian 12: python3).
if [ -z "${STARS_PYTHON:-}" ] && ! command -v python3.11 >/dev/null 2>&1 && [ -z "$ROOT" ] \
  && command -v dnf >/dev/null 2>&1; then
  dnf install -y -q python3.11 >/dev/null
fi
PY="${STARS_PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$PY" ] || die "python3 is required"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PY is older than Python 3.11"

# 1. Source: a local checkout or a release tarball.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ -n "${STARS_SOURCE_DIR:-}" ]; then
  SRC="$STARS_SOURCE_DIR"
elif [ -n "${STARS_RELEASE_URL:-}" ]; then
  log "downloading release"
  curl -fsSL --retry 5 -o "$WORK/release.tar.gz" "$STARS_RELEASE_URL"
  mkdir "$WORK/src"
  tar -xzf "$WORK/release.tar.gz" -C "$WORK/src"
  SRC="$(dirname "$(find "$WORK/src" -maxdepth 3 -type d -name runtime -path '*/runtime' | head -n 1)")"
else
  die "set STARS_RELEASE_URL or STARS_SOURCE_DIR"
fi
[ -f "$SRC/runtime/__main__.py" ] && [ -f "$SRC/requirements.txt" ] || die "no runtime in $SRC"

# 2. Application files and a virtualenv with the runtime's pinned dependencies.
mkdir -p "$APP" "$ENV_DIR" "$STATE" "$UNIT_DIR"
rm -rf "$APP/runtime" "$APP/clients"
cp -R "$SRC/runtime" "$APP/runtime"
# The JavaScript client the runtime serves at /client/stars.js (pages load it from the server).
mkdir -p "$APP/clients"
cp -R "$SRC/clients/js" "$APP/clients/js"
sed -n '/^# Runtime/,/^$/p' "$SRC/requirements.txt" | grep -v '^#' | grep -v '^$' > "$APP/requirements.txt"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
log "installing dependencies"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$APP/requirements.txt"

# 3. Secrets -> environment file.
JWT_SECRET="$(secret "$STARS_JWT_SECRET_ARN")"
DB_JSON="$(secret "$STARS_DB_SECRET_ARN")"
REDIS_TOKEN=""
if [ -n "${STARS_REDIS_AUTH_SECRET_ARN:-}" ]; then
  REDIS_TOKEN="$(secret "$STARS_REDIS_AUTH_SECRET_ARN")"
fi
umask 077
APP="$APP" DB_JSON="$DB_JSON" REDIS_TOKEN="$REDIS_TOKEN" JWT_SECRET="$JWT_SECRET" "$VENV/bin/python" - "$ENV_FILE" <<'PYEOF'
import json, os, sys
from urllib.parse import quote

env = os.environ
db = json.loads(env["DB_JSON"])
user, password = quote(db["username"], safe=""), quote(db["password"], safe="")
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
    "PYTHONPATH": env["APP"],
}
for key in ("STARS_DB_POOL_SIZE", "STARS_QUEUE_MESSAGES", "STARS_QUEUE_BYTES", "STARS_DRAIN_GRACE"):
    if env.get(key):
        values[key] = env[key]
with open(sys.argv[1], "w") as f:  # systemd EnvironmentFile syntax: double quotes, \\ and \" escaped
    for key, value in values.items():
        if "\n" in value:
            raise SystemExit(f"{key} contains a newline")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        f.write(f'{key}="{quoted}"\n')
PYEOF
chmod 600 "$ENV_FILE"
umask 022

# 4. The unit (paths rewritten for a local root), then enable and start it.
sed -e "s#/opt/stars#$ROOT/opt/stars#g" -e "s#/etc/stars#$ENV_DIR#g" -e "s#/var/lib/stars#$STATE#g" \
  "$SRC/runtime/deploy/stars-runtime.service" > "$UNIT_DIR/stars-runtime.service"
if [ -n "$ROOT" ]; then
  log "local mode: installed under $ROOT (no systemctl); settings in $ENV_FILE"
  exit 0
fi
id stars >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin stars
chown root:stars "$ENV_FILE"
chmod 640 "$ENV_FILE"
chown -R stars:stars "$STATE"
systemctl daemon-reload
systemctl enable --now stars-runtime.service
log "stars-runtime enabled and started"
