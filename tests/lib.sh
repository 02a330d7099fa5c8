# tests/lib.sh — shared harness for the TAP integration tests (run under prove).
#
#   . "$(dirname "$0")/../lib.sh"
#   sim_start [sim flags...]       # omni-sim on a free loopback port; sources its env file
#   ok "description" command...    # one TAP test: passes when the command exits 0
#   is "description" "$got" "$want"
#   like "description" "$got" "regex"
#   wait_for 10 "description" command...   # poll until the command succeeds (bounded)
#   done_testing
#
# Every test runs in its own scratch directory ($T), removed on success and kept
# (path printed) on failure. Every process started with bg is killed on exit.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${OMNI_BIN:-$TOP/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/omni-test.XXXXXX")
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.state
mkdir -p "$HOME"
unset ANTHROPIC_API_KEY ANTHROPIC_ENVIRONMENT_KEY ANTHROPIC_BASE_URL ANTHROPIC_ENVIRONMENT_ID ANTHROPIC_WORKSPACE_ID \
      OMNI_PROFILE OMNI_CONFIG
export NO_COLOR=1

_tap_n=0
_tap_fail=0
_bg_pids=()

# OMNI_VALGRIND=1: run omnictl and omni-worker (and the children they exec,
# except system programs) under valgrind; any error or definite leak it reports
# fails the test file. OMNI_VALGRIND_PROGS overrides which programs are
# wrapped. The wrappers and logs live outside $T (which is private) so that a
# test may run a wrapped program as another user. Bounded waits (wait_for,
# until_ok) get _WAIT_FACTOR times longer.
_WAIT_FACTOR=1
_VG=
if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    _WAIT_FACTOR=3
    _real_bin=$BIN
    _VG=$(mktemp -d "${TMPDIR:-/tmp}/omni-vg.XXXXXX")
    chmod 755 "$_VG"
    BIN=$_VG/bin
    VGLOGS=$_VG/logs
    mkdir -p "$BIN" "$VGLOGS"
    chmod 1777 "$VGLOGS"
    for _p in omnictl omni-worker omni-console omni-sim; do
        [ -e "$_real_bin/$_p" ] || continue
        case " ${OMNI_VALGRIND_PROGS:-omnictl omni-worker} " in
        *" $_p "*)
            cat >"$BIN/$_p" <<EOS
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --suppressions="$TOP/tests/valgrind.supp" \
    --error-exitcode=97 --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*,*/bash,*/sh,*/env' \
    --log-file="$VGLOGS/$_p.%p.log" "$_real_bin/$_p" "\$@"
EOS
            chmod +x "$BIN/$_p" ;;
        *) ln -s "$_real_bin/$_p" "$BIN/$_p" ;;
        esac
    done
fi

_cleanup() {
    local p
    for p in "${_bg_pids[@]:-}"; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
    done
    for p in "${_bg_pids[@]:-}"; do
        [ -n "$p" ] || continue
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # session directories (tmpfs, as root) of a worker killed outright
    # (SIGKILL leaves no chance to unmount; a later worker start would sweep)
    local m
    for m in $(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts 2>/dev/null); do
        umount -l "$m" 2>/dev/null
    done
    if [ "$_tap_fail" -eq 0 ]; then
        rm -rf "$T" ${_VG:+"$_VG"}
    else
        echo "# scratch kept: $T${_VG:+ $_VG}" >&2
    fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# bg CMD...: start a background process, remember it for cleanup; sets $BG_PID.
bg() {
    "$@" &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
}

_result() {
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $_tap_n - $2"
    else
        _tap_fail=$((_tap_fail + 1))
        echo "not ok $_tap_n - $2"
    fi
}

ok() {
    local d=$1; shift
    "$@" >"$T/last.out" 2>"$T/last.err"
    local rc=$?
    _result $rc "$d"
    if [ $rc -ne 0 ]; then
        echo "#   command: $*" >&2
        echo "#   exit: $rc" >&2
        sed 's/^/#   out: /' "$T/last.out" | head -20 >&2
        sed 's/^/#   err: /' "$T/last.err" | head -20 >&2
    fi
    return 0
}

# fails "description" command...: passes when the command exits non-zero.
fails() {
    local d=$1; shift
    "$@" >"$T/last.out" 2>"$T/last.err"
    local rc=$?
    if [ $rc -ne 0 ]; then _result 0 "$d"; else _result 1 "$d"; echo "#   expected failure: $*" >&2; fi
}

is() {
    if [ "$2" = "$3" ]; then _result 0 "$1"; else
        _result 1 "$1"
        printf '#   got:  %s\n#   want: %s\n' "$2" "$3" >&2
    fi
}

like() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then _result 0 "$1"; else
        _result 1 "$1"
        printf '#   got:  %s\n#   want match: %s\n' "$(printf '%s' "$2" | head -c 2000)" "$3" >&2
    fi
}

unlike() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then
        _result 1 "$1"
        printf '#   got:  %s\n#   must not match: %s\n' "$(printf '%s' "$2" | head -c 2000)" "$3" >&2
    else _result 0 "$1"; fi
}

# wait_for SECONDS "description" command... — poll every 0.1 s, one TAP result.
wait_for() {
    local secs=$(( $1 * _WAIT_FACTOR )) d=$2; shift 2
    local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while :; do
        if "$@" >/dev/null 2>&1; then _result 0 "$d"; return 0; fi
        if [ $(( $(date +%s%N) / 1000000 )) -ge $end ]; then
            _result 1 "$d (timed out after ${secs}s)"; return 1
        fi
        sleep 0.1
    done
}

# until_ok SECONDS command... — like wait_for but silent; returns the status.
until_ok() {
    local secs=$(( $1 * _WAIT_FACTOR )); shift
    local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.1
    done
}

# sim_start [flags...]: start omni-sim on a free loopback port and source its
# env file (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_ENVIRONMENT_ID,
# ANTHROPIC_ENVIRONMENT_KEY, OMNI_SIM_AGENT_ID). Exported for child programs
# only where a test chooses to (keys are not exported by default).
sim_start() {
    SIM_ENV=$T/sim.env
    SIM_LOG=$T/sim.log
    bg "$BIN/omni-sim" --port 0 --env-file "$SIM_ENV" "$@" >"$T/sim.out" 2>"$SIM_LOG"
    SIM_PID=$BG_PID
    if ! until_ok 10 grep -q '^listening on ' "$T/sim.out"; then
        echo "Bail out! omni-sim did not start: $(head -5 "$SIM_LOG")"
        exit 1
    fi
    until_ok 5 test -s "$SIM_ENV"
    # shellcheck disable=SC1090
    . "$SIM_ENV"
    SIM_URL=$ANTHROPIC_BASE_URL
}

# sim_report: print the simulator's /_sim/report JSON.
sim_report() {
    curl -sf --max-time 5 "$SIM_URL/_sim/report"
}

# jget JSON PATH: extract a value with node-free tooling (python3 is not
# guaranteed); uses the small helper in tests/jget.
jget() {
    printf '%s' "$1" | "$TOP/tests/jget" "$2"
}

done_testing() {
    if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
        local bad="" f
        # valgrind 3.19 does not know openat2 (syscall 437) and says so; the
        # toolset then falls back to its own walker. That notice is not an error.
        for f in $(find "$VGLOGS" -type f -size +0 2>/dev/null); do
            awk '/WARNING: unhandled amd64-linux syscall: 437/ {skip=1; next}
                 skip && /bug_reports.html/ {skip=0; next}
                 !skip' "$f" | grep -q . && bad="$bad $f"
        done
        if [ -n "$bad" ]; then
            _result 1 "valgrind reports no error and no leak"
            for f in $bad; do sed 's/^/#   vg: /' "$f" | head -40 >&2; done
        else
            _result 0 "valgrind reports no error and no leak"
        fi
    fi
    echo "1..$_tap_n"
    [ "$_tap_fail" -eq 0 ]
}
