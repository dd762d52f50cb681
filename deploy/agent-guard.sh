#!/bin/sh
# The agent's start guard (issue 16, self-update with automatic rollback). systemd runs it as the
# unit's ExecStartPre before every start of the agent (deploy/tributary-agent.service); tests run it
# from a supervise loop in the same way (test/helpers/supervise.ts). It is plain POSIX sh so that it
# still works when the new agent binary cannot even start: a crash before any JavaScript runs is
# handled here, not in the agent.
#
#   agent-guard.sh <agent dir> <factory binary> [<version label>]   before each start
#   agent-guard.sh --install <agent dir> <binary> [<version label>] install.sh: make <binary> current
#
# Layout of <agent dir> (<data>/agent, owned by the agent's user; edge-agent/src/update/slots.ts):
#   slots/a/, slots/b/   tributary-agent (the binary) and version (its label), one slot per version
#   current              symlink to slots/<x>/tributary-agent: what ExecStart runs; replaced by
#                        rename(2), so it always names a whole binary, whatever moment the power goes
#   previous             symlink to the other slot's binary: where a rollback goes
#   trial                "<starts> <deadline epoch s> <version>" while a new version is on trial;
#                        the agent deletes it when the version proved healthy (commit)
#   result               "<state> <version> <reason>" of the last update (committed, rolled-back, ...)
#
# On trial, every start counts. More than TRIBUTARY_UPDATE_MAX_STARTS starts (default 3) or a start
# after the deadline means the new version crash-loops or never proved healthy: current goes back
# to previous, and the agent that starts next (the old one) reports the rollback from `result`.
set -eu

MAX_STARTS=${TRIBUTARY_UPDATE_MAX_STARTS:-3}
MODE=start
if [ "${1:-}" = --install ]; then MODE=install; shift; fi
[ $# -ge 2 ] || { echo 'usage: agent-guard.sh [--install] <agent dir> <binary> [<version label>]' >&2; exit 2; }
DIR=$1 FACTORY=$2 LABEL=${3:-installed}

log() { printf 'agent-guard: %s\n' "$*" >&2; }
# Writes a file by rename, so a reader (or a reboot) sees the old content or the new, never half.
put() { printf '%s\n' "$2" > "$DIR/.$1.$$" && mv -f "$DIR/.$1.$$" "$DIR/$1"; }
# Points the symlink $1 at $2 by rename: atomic, unlike ln -sf (unlink, then symlink).
relink() { ln -s "$2" "$DIR/.$1.$$" && mv -f "$DIR/.$1.$$" "$DIR/$1"; }
slot_of() { t=$(readlink "$DIR/$1" 2>/dev/null) || return 1; t=${t%/tributary-agent}; printf '%s' "${t#slots/}"; }

# Copies <binary> into the slot that `current` does not use and switches to it (no trial).
install_factory() {
  cur=$(slot_of current || echo b)
  if [ "$cur" = a ]; then new=b; else new=a; fi
  mkdir -p "$DIR/slots/$new"
  cp "$1" "$DIR/slots/$new/.tributary-agent.$$" && chmod 755 "$DIR/slots/$new/.tributary-agent.$$"
  mv -f "$DIR/slots/$new/.tributary-agent.$$" "$DIR/slots/$new/tributary-agent"
  printf '%s\n' "$2" > "$DIR/slots/$new/version"
  if [ -e "$DIR/current" ]; then relink previous "$(readlink "$DIR/current")"; fi
  rm -f "$DIR/trial"
  relink current "slots/$new/tributary-agent"
  log "slot $new: $1 ($2) is current"
}

mkdir -p "$DIR/slots"
if [ "$MODE" = install ]; then install_factory "$FACTORY" "$LABEL"; exit 0; fi

# No usable current binary (first start, or the data directory was wiped): the factory binary.
if [ ! -x "$DIR/current" ]; then
  [ -x "$FACTORY" ] || { log "no current agent and no factory binary at $FACTORY"; exit 1; }
  install_factory "$FACTORY" "$LABEL"
  exit 0
fi

[ -f "$DIR/trial" ] || exit 0
read -r starts deadline version < "$DIR/trial" || true
case "${starts:-x}${deadline:-x}" in *[!0-9]*) starts=$MAX_STARTS deadline=0 ;; esac
starts=$((starts + 1))
now=$(date +%s)
reason=''
if [ "$starts" -gt "$MAX_STARTS" ]; then reason="crash loop: $((starts - 1)) starts without proving healthy"
elif [ "$now" -gt "$deadline" ]; then reason="not healthy by its deadline (restarted after it)"
fi
if [ -z "$reason" ]; then
  put trial "$starts $deadline ${version:-?}"
  log "version ${version:-?} on trial: start $starts of $MAX_STARTS"
  exit 0
fi
if [ -e "$DIR/previous" ] && [ -x "$DIR/previous" ]; then
  relink current "$(readlink "$DIR/previous")"
  put result "rolled-back ${version:-?} $reason"
  rm -f "$DIR/trial"
  log "version ${version:-?} rolled back to slot $(slot_of current): $reason"
else
  # Nothing to go back to: keep trying the only binary there is.
  rm -f "$DIR/trial"
  put result "failed ${version:-?} $reason; no previous slot to go back to"
  log "version ${version:-?}: $reason, and no previous slot"
fi
