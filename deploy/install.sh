#!/bin/sh
# Installs the Tributary edge agent on a Linux device in one command (deploy/README.md, "Put it on
# devices"). The master serves this script at GET /install.sh with its own URL and the systemd unit
# template filled in below, so a device needs only:
#
#   curl -fsSL https://<master>/install.sh | sh -s -- --token <enrolment token> [--id <device id>] [--label k=v]
#
# It picks the binary for this machine's architecture, downloads it from the master (GET
# /agent/<version>/linux-<arch>, its .sha256 and .sig), checks the hash and the master's Ed25519
# signature, writes the agent's config, the enrolment token and the systemd unit, starts the agent
# (which enrols itself with the token) and waits until it is registered. Re-running it with the same
# arguments changes nothing. Offline: `--bundle <dir or .tar.gz>` from `tributary fleet bundle`.
# Tests (test/install.test.ts) run it with --prefix <tmp> --no-systemd --binary <file>.
set -eu

# Filled in by the master when it serves this script (cloud-core/src/master/install-routes.ts).
EMBEDDED_MASTER=''
EMBEDDED_UNIT=''
EMBEDDED_GUARD=''

usage() {
  cat <<'EOF'
usage: install.sh --master <url> --token <enrolment token> [--id <device id>] [--label k=v ...]
       install.sh --bundle <dir or .tar.gz> [--prefix <dir>] [--no-systemd]
       install.sh --uninstall [--purge] [--prefix <dir>] [--no-systemd]

  --master <url>        the master's REST API (http(s)://host:port); the agent enrols there
  --id <device id>      this device's id (default: the short hostname); must match the token's
  --label k=v           a label for placement selectors (repeatable)
  --token <token>       enrolment token from `tributary devices add <id>` (used once)
  --version <v>         agent version to download (default: latest)
  --arch x64|arm64      override the architecture detected with uname -m
  --binary <file>       install this agent binary instead of downloading one
  --bundle <dir|tar>    install from an offline bundle (`tributary fleet bundle`): no network
  --master-key <pem>    pin the master's Ed25519 signing key instead of fetching GET /signing-key
  --ca <pem>            the CA of the master's https certificate: for the downloads, and kept as
                        /etc/tributary/master-ca.pem for the agent (NODE_EXTRA_CA_CERTS) to enrol
  --require-signature   refuse a binary whose signature cannot be checked
  --prefix <dir>        install under <dir> instead of / (tests, images)
  --no-systemd          write the unit under the prefix, but neither enable nor start it, and
                        contact no master (needs --binary or --bundle)
  --wait <seconds>      how long to wait for the agent to register (default 60)
  --uninstall           stop and remove the agent (binary, unit, token); keeps config and data
  --purge               with --uninstall: also remove config, data and the tributary user
EOF
}

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

MASTER=$EMBEDDED_MASTER ID='' TOKEN='' LABELS='' VERSION=latest ARCH='' BINARY='' BUNDLE=''
MASTER_KEY='' CA='' REQUIRE_SIG=0 PREFIX='' NO_SYSTEMD=0 WAIT=60 UNINSTALL=0 PURGE=0
AGENT_USER=tributary UNIT_NAME=tributary-agent.service

need() { [ "$1" -ge 2 ] || die "$2 needs a value"; }
parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --master) need $# "$1"; MASTER=$2; shift 2 ;;
      --id) need $# "$1"; ID=$2; shift 2 ;;
      --label) need $# "$1"; LABELS="$LABELS$2
"; shift 2 ;;
      --token) need $# "$1"; TOKEN=$2; shift 2 ;;
      --version) need $# "$1"; VERSION=$2; shift 2 ;;
      --arch) need $# "$1"; ARCH=$2; shift 2 ;;
      --binary) need $# "$1"; BINARY=$2; shift 2 ;;
      --bundle) need $# "$1"; BUNDLE=$2; shift 2 ;;
      --master-key) need $# "$1"; MASTER_KEY=$2; shift 2 ;;
      --ca) need $# "$1"; CA=$2; shift 2 ;;
      --require-signature) REQUIRE_SIG=1; shift ;;
      --prefix) need $# "$1"; PREFIX=$2; shift 2 ;;
      --no-systemd) NO_SYSTEMD=1; shift ;;
      --wait) need $# "$1"; WAIT=$2; shift 2 ;;
      --uninstall) UNINSTALL=1; shift ;;
      --purge) PURGE=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
}
parse_args "$@"

# /var/tmp, not /tmp: on many devices /tmp is RAM (tmpfs), and a download or bundle is ~100 MB.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/tributary-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# An offline bundle: its install.args (--master, --id, --label lines) and enrolment token come
# first; flags given here override them (labels are merged, the last value of a key wins).
BUNDLE_DIR=''
if [ -n "$BUNDLE" ]; then
  if [ -d "$BUNDLE" ]; then
    BUNDLE_DIR=$BUNDLE
  elif [ -f "$BUNDLE" ]; then
    mkdir "$WORK/bundle" && tar -xzf "$BUNDLE" -C "$WORK/bundle" || die "cannot unpack $BUNDLE"
    BUNDLE_DIR=$WORK/bundle
    # `tributary fleet bundle` puts everything in one top directory.
    for d in "$WORK/bundle"/*/; do [ -f "$d/install.args" ] && BUNDLE_DIR=${d%/}; break; done
  else
    die "no bundle at $BUNDLE"
  fi
  [ -f "$BUNDLE_DIR/install.args" ] && [ -f "$BUNDLE_DIR/tributary-agent" ] || die "$BUNDLE is not a tributary bundle (no install.args or tributary-agent)"
  load_bundle_args() {
    file=$1
    set --
    while IFS= read -r line || [ -n "$line" ]; do set -- "$@" "$line"; done < "$file"
    parse_args "$@"
  }
  load_bundle_args "$BUNDLE_DIR/install.args"
  parse_args "$@"
  if [ -z "$TOKEN" ] && [ -f "$BUNDLE_DIR/enrol-token" ]; then TOKEN=$(cat "$BUNDLE_DIR/enrol-token"); fi
  if [ -z "$CA" ] && [ -f "$BUNDLE_DIR/master-ca.pem" ]; then CA=$BUNDLE_DIR/master-ca.pem; fi
  BINARY=$BUNDLE_DIR/tributary-agent
fi

# Paths, all under the prefix. Values that end up in the unit or the config are restricted to
# characters that need no quoting there.
safe_path() { case $1 in *[!A-Za-z0-9_./-]*) return 1 ;; esac; }
if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX" && PREFIX=$(cd "$PREFIX" && pwd -P) || die "cannot create prefix $PREFIX"
  safe_path "$PREFIX" || die "prefix $PREFIX: only letters, digits and _ . / - are allowed"
fi
BIN=$PREFIX/usr/local/bin/tributary-agent
CONF_DIR=$PREFIX/etc/tributary
CONFIG=$CONF_DIR/agent.json
ENV_FILE=$CONF_DIR/enrol.env
CA_FILE=$CONF_DIR/master-ca.pem
KEY_FILE=$CONF_DIR/master-signing.pub
UNIT=$PREFIX/etc/systemd/system/$UNIT_NAME
DATA=$PREFIX/var/lib/tributary
# The start guard (ExecStartPre) and the agent's two slots (deploy/agent-guard.sh, self-update).
GUARD=$PREFIX/usr/local/lib/tributary/agent-guard
AGENT_DIR=$DATA/agent

as_root() { [ "$(id -u)" = 0 ] || die "run as root (or with --no-systemd --prefix <dir>)"; }
systemd_on() { [ "$NO_SYSTEMD" = 0 ]; }

if [ "$UNINSTALL" = 1 ]; then
  if systemd_on; then
    as_root
    systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
  fi
  rm -f "$BIN" "$GUARD" "$UNIT" "$ENV_FILE"
  if systemd_on; then systemctl daemon-reload; fi
  if [ "$PURGE" = 1 ]; then
    rm -rf "$DATA" "$CONF_DIR"
    if systemd_on && id -u "$AGENT_USER" >/dev/null 2>&1; then userdel "$AGENT_USER" 2>/dev/null || deluser "$AGENT_USER" 2>/dev/null || true; fi
    say "removed the agent, its config and its data ($DATA)"
  else
    say "removed the agent; config ($CONF_DIR) and data ($DATA) kept (--purge removes them)"
  fi
  exit 0
fi

# --- what to install --------------------------------------------------------------------------
[ -n "$MASTER" ] || die "--master <url> is required"
case $MASTER in
  http://*|https://*|mqtt://*|mqtts://*) ;;
  *) die "--master $MASTER: expected http(s)://host:port (the master's REST API)" ;;
esac
case $MASTER in *[[:space:]\"\\]*) die "--master $MASTER: no spaces, quotes or backslashes" ;; esac
MASTER=${MASTER%/}
[ -n "$ID" ] || ID=$( (hostname 2>/dev/null || uname -n) | cut -d. -f1)
case $ID in ''|*[!A-Za-z0-9_.-]*) die "--id '$ID': ids are 1-64 letters, digits, _ . -" ;; esac
[ ${#ID} -le 64 ] || die "--id $ID: longer than 64 characters"
case $TOKEN in *[!A-Za-z0-9_.~+/=-]*) die "--token: unexpected characters" ;; esac
case $WAIT in ''|*[!0-9]*) die "--wait $WAIT: expected seconds" ;; esac
[ -z "$CA" ] || [ -f "$CA" ] || die "--ca $CA: no such file"
if [ -z "$ARCH" ]; then
  case $(uname -m) in
    x86_64|amd64) ARCH=x64 ;;
    aarch64|arm64|armv8*) ARCH=arm64 ;;
    *) die "no agent binary for $(uname -m) (there are x64 and arm64)" ;;
  esac
fi
case $ARCH in x64|arm64) ;; *) die "--arch $ARCH: expected x64 or arm64" ;; esac
if ! systemd_on && [ -z "$BINARY" ]; then die "--no-systemd contacts no master: give --binary <file> or --bundle <dir>"; fi
if systemd_on; then as_root; fi

# Labels: k=v lines, validated, one per key (the last wins), sorted so the config is stable.
LABELS=$(printf '%s' "$LABELS" | awk -F= 'NF { v[$1] = $0 } END { for (k in v) print v[k] }' | LC_ALL=C sort)
: > "$WORK/labels"
if [ -n "$LABELS" ]; then printf '%s\n' "$LABELS" > "$WORK/labels"; fi
while IFS= read -r kv; do
  case ${kv%%=*} in ''|*[!A-Za-z0-9_.-]*) die "--label $kv: keys are letters, digits, _ . -" ;; esac
  case $kv in *=?*) ;; *) die "--label $kv: expected key=value with a value" ;; esac
  case $kv in *[[:cntrl:]]*) die "--label $kv: control characters" ;; esac
done < "$WORK/labels"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
fetch() { # <url> <file>
  if command -v curl >/dev/null 2>&1; then
    if [ -n "$CA" ]; then curl -fsSL --cacert "$CA" -o "$2" "$1"; else curl -fsSL -o "$2" "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [ -n "$CA" ]; then wget -q --ca-certificate="$CA" -O "$2" "$1"; else wget -q -O "$2" "$1"; fi
  else
    die "neither curl nor wget: copy the binary over and use --binary, or use --bundle"
  fi
}

# --- the binary: from the bundle, a file, or the master; hash and signature checked ------------
EXPECTED_SHA='' SIG='' KEY=''
if [ -n "$BUNDLE_DIR" ]; then
  [ -f "$BUNDLE_DIR/tributary-agent.sha256" ] && EXPECTED_SHA=$(cut -d' ' -f1 < "$BUNDLE_DIR/tributary-agent.sha256")
  [ -f "$BUNDLE_DIR/tributary-agent.sig" ] && SIG=$BUNDLE_DIR/tributary-agent.sig
  [ -f "$BUNDLE_DIR/master-signing.pub" ] && KEY=$BUNDLE_DIR/master-signing.pub
elif [ -z "$BINARY" ]; then
  case $MASTER in http://*|https://*) ;; *) die "downloads need --master http(s)://…; or give --binary" ;; esac
  url=$MASTER/agent/$VERSION/linux-$ARCH
  fetch "$url.sha256" "$WORK/sha256" || die "cannot download $url.sha256"
  EXPECTED_SHA=$(cut -d' ' -f1 < "$WORK/sha256")
  if [ -f "$BIN" ] && [ "$(sha256_of "$BIN")" = "$EXPECTED_SHA" ]; then
    BINARY=$BIN   # already installed: nothing to download
  else
    say "downloading $url"
    fetch "$url" "$WORK/tributary-agent" || die "cannot download $url"
    BINARY=$WORK/tributary-agent
  fi
  if fetch "$url.sig" "$WORK/sig" 2>/dev/null; then SIG=$WORK/sig; fi
fi
[ -f "$BINARY" ] || die "no binary at $BINARY"
# The key that checks the signature, most trusted first: pinned with --master-key, the one this
# device got at enrolment, the one kept from an earlier install, the bundle's, then the master's
# GET /signing-key (trust on first use, over the same channel as the binary).
if [ -n "$MASTER_KEY" ]; then KEY=$MASTER_KEY
elif [ -f "$DATA/identity/master-signing.pub" ]; then KEY=$DATA/identity/master-signing.pub
elif [ -f "$KEY_FILE" ]; then KEY=$KEY_FILE
elif [ -z "$KEY" ] && [ -n "$SIG" ] && [ -z "$BUNDLE_DIR" ]; then
  if fetch "$MASTER/signing-key" "$WORK/signing.pub" 2>/dev/null; then KEY=$WORK/signing.pub; fi
fi
if [ -n "$EXPECTED_SHA" ]; then
  [ "$(sha256_of "$BINARY")" = "$EXPECTED_SHA" ] || die "the binary's SHA-256 is not $EXPECTED_SHA: refusing it"
fi
if [ -n "$SIG" ] && [ -n "$KEY" ] && command -v openssl >/dev/null 2>&1; then
  # Ed25519 over the binary's SHA-256 (hex) behind the agent binaries' own domain prefix
  # (shared/src/wire/agent-signature.ts): a signature over anything else the master signs never fits.
  printf 'tributary-agent-v1\000%s' "$(sha256_of "$BINARY")" > "$WORK/signed"
  openssl pkeyutl -verify -pubin -inkey "$KEY" -rawin -in "$WORK/signed" -sigfile "$SIG" >/dev/null 2>&1 \
    || die "the binary's signature does not verify with the master's key $KEY: refusing it"
  say "binary verified: sha256 $(sha256_of "$BINARY"), signed by the master"
elif [ "$REQUIRE_SIG" = 1 ]; then
  die "cannot check the binary's signature (signature: ${SIG:-none}, key: ${KEY:-none}, openssl: $(command -v openssl || echo none))"
elif [ -n "$EXPECTED_SHA" ]; then
  warn "signature not checked (signature: ${SIG:-none}, key: ${KEY:-none}, openssl: $(command -v openssl || echo none)); the SHA-256 matches"
else
  say "installing the local binary $BINARY as given (no hash or signature to check)"
fi

# --- files: each written to a temporary file beside its target and moved in only if different ---
CHANGED=''
file_mode() { stat -c %a "$1" 2>/dev/null || echo none; }
put_file() { # <source> <target> <mode>; the source is copied, never moved
  mkdir -p "$(dirname "$2")"
  if [ -f "$2" ] && cmp -s "$1" "$2" && [ "$(file_mode "$2")" = "$3" ]; then return 0; fi
  tmp=$(mktemp "$(dirname "$2")/.tributary.XXXXXX")
  cp "$1" "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$2" || { rm -f "$tmp"; die "cannot write $2"; }
  CHANGED="$CHANGED $2"
  say "wrote $2"
}
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

put_file "$BINARY" "$BIN" 755

{
  printf '{\n  "id": %s,\n  "master": %s,\n  "labels": {' "$(json_str "$ID")" "$(json_str "$MASTER")"
  sep=''
  if [ -n "$LABELS" ]; then
    while IFS= read -r kv; do
      printf '%s\n    %s: %s' "$sep" "$(json_str "${kv%%=*}")" "$(json_str "${kv#*=}")"
      sep=','
    done < "$WORK/labels"
    printf '\n  '
  fi
  printf '},\n  "data": %s\n}\n' "$(json_str "$DATA")"
} > "$WORK/agent.json"
put_file "$WORK/agent.json" "$CONFIG" 640

# The agent's environment: the enrolment token (kept from an earlier run when not given again) and
# the master's CA for Node's https (enrolment with a certificate from the fabric's own CA).
if [ -n "$CA" ]; then put_file "$CA" "$CA_FILE" 644; fi
if [ -z "$TOKEN" ] && [ -f "$ENV_FILE" ]; then TOKEN=$(sed -n 's/^TRIBUTARY_ENROL_TOKEN=//p' "$ENV_FILE"); fi
: > "$WORK/enrol.env"
if [ -f "$CA_FILE" ]; then printf 'NODE_EXTRA_CA_CERTS=%s\n' "$CA_FILE" >> "$WORK/enrol.env"; fi
if [ -n "$TOKEN" ]; then printf 'TRIBUTARY_ENROL_TOKEN=%s\n' "$TOKEN" >> "$WORK/enrol.env"; fi
if [ -s "$WORK/enrol.env" ]; then put_file "$WORK/enrol.env" "$ENV_FILE" 600; fi
if [ -n "$KEY" ] && [ "$KEY" != "$KEY_FILE" ]; then put_file "$KEY" "$KEY_FILE" 644; fi

SCRIPT_DIR=$(dirname "$0")
if [ -n "$EMBEDDED_UNIT" ]; then printf '%s\n' "$EMBEDDED_UNIT" > "$WORK/unit.in"
elif [ -n "$BUNDLE_DIR" ] && [ -f "$BUNDLE_DIR/tributary-agent.service" ]; then cp "$BUNDLE_DIR/tributary-agent.service" "$WORK/unit.in"
elif [ -f "$SCRIPT_DIR/tributary-agent.service" ]; then cp "$SCRIPT_DIR/tributary-agent.service" "$WORK/unit.in"
else die "no unit template: run the install.sh the master serves, or keep tributary-agent.service beside this script"; fi
if [ -n "$EMBEDDED_GUARD" ]; then printf '%s\n' "$EMBEDDED_GUARD" > "$WORK/guard"
elif [ -n "$BUNDLE_DIR" ] && [ -f "$BUNDLE_DIR/agent-guard.sh" ]; then cp "$BUNDLE_DIR/agent-guard.sh" "$WORK/guard"
elif [ -f "$SCRIPT_DIR/agent-guard.sh" ]; then cp "$SCRIPT_DIR/agent-guard.sh" "$WORK/guard"
else die "no agent-guard.sh: run the install.sh the master serves, or keep agent-guard.sh beside this script"; fi
put_file "$WORK/guard" "$GUARD" 755
sed -e "s|@BINARY@|$BIN|g" -e "s|@GUARD@|$GUARD|g" -e "s|@CONFIG@|$CONFIG|g" -e "s|@ENV_FILE@|$ENV_FILE|g" -e "s|@DATA@|$DATA|g" \
  -e "s|@USER@|$AGENT_USER|g" "$WORK/unit.in" > "$WORK/unit"
put_file "$WORK/unit" "$UNIT" 644

mkdir -p "$DATA"
[ "$(file_mode "$DATA")" = 750 ] || { chmod 750 "$DATA"; CHANGED="$CHANGED $DATA"; }
# The binary goes into one of the agent's two slots and becomes current (a re-run that did not
# rewrite the binary leaves the slots alone: the agent may have updated itself since).
case " $CHANGED " in
  *" $BIN "*) sh "$GUARD" --install "$AGENT_DIR" "$BIN" "$VERSION" 2>/dev/null; CHANGED="$CHANGED $AGENT_DIR" ;;
  *) if [ ! -x "$AGENT_DIR/current" ]; then sh "$GUARD" --install "$AGENT_DIR" "$BIN" "$VERSION" 2>/dev/null; CHANGED="$CHANGED $AGENT_DIR"; fi ;;
esac

if ! systemd_on; then
  if [ -z "$CHANGED" ]; then say "nothing changed"; else say "installed under ${PREFIX:-/} (not enabled or started: --no-systemd)"; fi
  exit 0
fi

# --- systemd: the agent's own user, the unit enabled and (re)started, registration awaited -----
if ! id -u "$AGENT_USER" >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/tributary --no-create-home --shell /usr/sbin/nologin "$AGENT_USER" 2>/dev/null \
    || adduser -S -D -H -h /var/lib/tributary -s /sbin/nologin "$AGENT_USER" \
    || die "cannot create the user $AGENT_USER"
  CHANGED="$CHANGED user:$AGENT_USER"
fi
chown -R "$AGENT_USER:$AGENT_USER" "$DATA"
chown "root:$AGENT_USER" "$CONFIG"
case $CHANGED in *"$UNIT"*) systemctl daemon-reload ;; esac
systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null || { systemctl enable --quiet "$UNIT_NAME"; CHANGED="$CHANGED enabled"; }

since=$(date +%s)
if [ -z "$CHANGED" ] && systemctl is-active --quiet "$UNIT_NAME"; then
  say "nothing changed; $UNIT_NAME is running"
  exit 0
fi
say "starting $UNIT_NAME"
systemctl restart "$UNIT_NAME"

# Registered = the agent logged "agent started" (it says so once its hello reached the master's
# broker), or the master's GET /nodes/<id> says it is online (with TRIBUTARY_TOKEN, an admin token, if set).
registered() {
  journalctl -u "$UNIT_NAME" --since "@$since" -o cat --no-pager 2>/dev/null | grep -q '"msg":"agent started"' && return 0
  case $MASTER in http://*|https://*) ;; *) return 1 ;; esac
  command -v curl >/dev/null 2>&1 || return 1
  if [ -n "${TRIBUTARY_TOKEN:-}" ]; then
    curl -fsS ${CA:+--cacert "$CA"} -H "Authorization: Bearer $TRIBUTARY_TOKEN" "$MASTER/nodes/$ID" 2>/dev/null | grep -q '"online":true'
  else
    curl -fsS ${CA:+--cacert "$CA"} "$MASTER/nodes/$ID" 2>/dev/null | grep -q '"online":true'
  fi
}
i=0
while [ "$i" -lt "$WAIT" ]; do
  if registered; then say "agent $ID is registered with $MASTER"; exit 0; fi
  if [ "$(systemctl is-active "$UNIT_NAME" 2>/dev/null)" = failed ]; then
    journalctl -u "$UNIT_NAME" --since "@$since" -o cat --no-pager -n 20 >&2 2>/dev/null || true
    die "$UNIT_NAME failed (journalctl -u $UNIT_NAME)"
  fi
  sleep 1
  i=$((i + 1))
done
die "the agent did not register within $WAIT s; see journalctl -u $UNIT_NAME"
