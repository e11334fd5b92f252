#!/usr/bin/env bash
# Schemathesis against one emulator: conformance/schemathesis/run.sh <zstack|lxca|ibm-backup-recovery>
#
# Builds xtask, serves the emulator on a free port (deterministic ids, fixed credentials), runs
# Schemathesis with specs/<vendor>.yaml, `--checks all` and a bounded, reproducible number of examples,
# stops the emulator and exits non-zero when Schemathesis reports a failure. The per-operation check
# exclusions live in <vendor>.toml beside this script; README.md lists them with their reasons.
#
# Environment: SCHEMATHESIS (the `st` executable; default target/schemathesis-venv/bin/st),
# XTASK (an xtask binary to use instead of building one), ST_MAX_EXAMPLES (default 10, IBM 5),
# ST_EXTRA (more `st run` arguments, word-split).
set -euo pipefail
cd "$(dirname "$0")/../.."

vendor="${1:-}"
# The fixed credentials of the emulators (README, "Emulators").
zstack_session=5c4e11ab0d1e4d5a9f3c2b7e8a6d4f01
ibm_token=schemathesis-token
case "$vendor" in
  zstack)
    scheme=http base=/zstack max_examples=10
    emulator_args=(--http --session "$zstack_session")
    auth_args=(-H "Authorization: OAuth $zstack_session")
    ;;
  lxca)
    scheme=https base= max_examples=10
    emulator_args=(--tls)
    auth_args=(--auth USERID:PASSW0RD)
    ;;
  ibm-backup-recovery)
    # Fewer examples: Hypothesis needs long to draw this spec's large request bodies.
    scheme=https base=/v2 max_examples=5
    emulator_args=(--tls --token "$ibm_token" --tenant tenant-a/)
    auth_args=(-H "Authorization: Bearer $ibm_token" -H "X-IBM-Tenant-Id: tenant-a/")
    ;;
  *)
    echo "usage: $0 <zstack|lxca|ibm-backup-recovery>" >&2
    exit 2
    ;;
esac

here="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$here/$target" ;; esac
st="${SCHEMATHESIS:-$target/schemathesis-venv/bin/st}"
case "$st" in /*) ;; *) st="$here/$st" ;; esac
[ -x "$st" ] || { echo "no Schemathesis at $st (python3 -m venv $target/schemathesis-venv && pip install schemathesis==4.32.5)" >&2; exit 2; }

if [ -n "${XTASK:-}" ]; then
  xtask="$XTASK" # an xtask binary built beforehand
else
  cargo build --quiet --package xtask
  xtask="$target/debug/xtask"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
work="$(mktemp -d)"
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill -INT "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The emulator's request log stays after the run, for a failure's context.
log="$target/schemathesis/$vendor-emulator.log"
mkdir -p "$(dirname "$log")"
"$xtask" emulate "$vendor" --port "$port" --deterministic "${emulator_args[@]}" >"$log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$emulator_pid" 2>/dev/null; then
    cat "$log" >&2
    echo "the $vendor emulator did not start" >&2
    exit 1
  fi
  sleep 0.1
done

url="$scheme://127.0.0.1:$port$base"
echo "Schemathesis $("$st" --version | awk '{print $NF}') against the $vendor emulator at $url"
start=$SECONDS
status=0
# shellcheck disable=SC2086
# From the scratch directory, so that Hypothesis' `.hypothesis/` does not land in the checkout. The
# configuration file enables every check (`checks.enabled = true`, what `--checks all` does): the
# command-line option would override the per-operation exclusions in the file.
(cd "$work" && "$st" --config-file "$here/conformance/schemathesis/$vendor.toml" run "$here/specs/$vendor.yaml" \
  --url "$url" \
  --tls-verify false \
  "${auth_args[@]}" \
  --max-examples "${ST_MAX_EXAMPLES:-$max_examples}" \
  --generation-deterministic \
  --workers 1 \
  --no-color \
  ${ST_EXTRA:-}) || status=$?
echo "$vendor: Schemathesis exit status $status after $((SECONDS - start)) s"
if [ "$status" -ne 0 ]; then
  echo "--- last lines of the emulator's log ($log) ---" >&2
  tail -n 20 "$log" >&2
fi
exit "$status"
