#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite (opencontainers/runtime-tools at 5e639034, from
# ../shared/conformance) against rt, or against another runtime for comparison.
#
#   scripts/conformance.sh [FILTER...]
#   scripts/conformance.sh --build-only
#   scripts/conformance.sh --no-build [FILTER...]
#
# FILTER: extended regular expressions matched against the executable names (e.g. `hooks`,
# '^linux_cgroups_(pids|memory)$'); with none, all 58 executables run.
# --build-only: fetch Go and build the suite (when not done yet), run nothing.
# --no-build: run the suite that --build-only built, without the tarball, Go or the network
#   (scripts/vm/v2-tests.sh runs it so in the cgroup-v2 VM, which has none of them); fails when
#   there is no build. Without either option, the suite is built first when needed.
#
# Environment:
#   RUNTIME_UNDER_TEST  rt (default) or runc, or the path of another runc-compatible runtime
#   RT_BIN              the rt binary to test (default: `cargo build --release` and its binary)
#   CONF_TARBALL        the suite's tarball (default ../shared/conformance/runtime-tools-5e639034.tar.gz
#                       next to the checkout, else /work/shared/conformance/...)
#   CONF_CACHE          Go toolchain and suite build (default target/conformance)
#   CONF_RESULTS        per-executable output (default target/conformance/results/<runtime>)
#   CONF_TIMEOUT        seconds per executable (default 120)
#   CONF_DEBUG=1        pass --debug to the runtime (its log goes to the results dir anyway)
#   CONF_EXPECTED       expected failures (default integration/conformance/expected-failures.txt)
#
# Results: for each executable NAME, NAME.tap (its stdout, the TAP stream), NAME.err (stderr),
# NAME.calls (the runtime commands it ran) and NAME.log (the runtime's --log); summary.txt.
# Exit status: 0 when every executable that ran passed or is listed as an expected failure.
#
# Needs root. It builds Go (from Debian bookworm-backports, downloaded with a private apt
# configuration, never installed) and the suite on first use; later runs reuse both.
#
# The cgroups of this host: the shell this runs from may sit in a memory cgroup that belongs to
# the machine (process_api). runc resolves a relative cgroupsPath, and the default path it uses
# when cgroupsPath is unset, against its own cgroup, which would create cgroups there. For any
# runtime other than rt, every runtime command therefore runs in a new cgroup namespace
# (unshare --cgroup), where its own cgroup is the root of every hierarchy. rt roots relative
# paths at the hierarchy (src/cgroups/mod.rs, relative_path), and skips cgroup mounts whose
# mountinfo root is not "/" (which is what a cgroup namespace shows), so rt runs as is; after
# every executable the script checks that nothing named like the suite's cgroups appeared under
# its own cgroup, and stops if it did.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly GO_DEBS=(golang-1.22-go golang-1.22-src)
readonly GO_ROOT_REL=usr/lib/go-1.22
# The suite's own cgroup names, made at the root of a hierarchy (runtime-tools cgroups/cgroups.go:
# AbsCgroupPath "/cgrouptest", RelCgroupPath "testdir/cgrouptest/container";
# validation/delete_only_create_resources makes /sys/fs/cgroup/pids/cgrouptest itself).
readonly SUITE_CGROUPS=(cgrouptest testdir)

RUNTIME_UNDER_TEST=${RUNTIME_UNDER_TEST:-rt}
CONF_CACHE=${CONF_CACHE:-$REPO/target/conformance}
CONF_TIMEOUT=${CONF_TIMEOUT:-120}
CONF_DEBUG=${CONF_DEBUG:-0}
CONF_EXPECTED=${CONF_EXPECTED:-$REPO/integration/conformance/expected-failures.txt}
if [[ -z ${CONF_TARBALL:-} ]]; then
    CONF_TARBALL=$REPO/../shared/conformance/runtime-tools-5e639034.tar.gz
    [[ -f $CONF_TARBALL ]] || CONF_TARBALL=/work/shared/conformance/runtime-tools-5e639034.tar.gz
fi

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'conformance.sh: %s\n' "$*" >&2; exit 2; }

[[ $(id -u) == 0 ]] || die "must run as root"
MODE=run # or build (--build-only), or prebuilt (--no-build)
case ${1:-} in
--build-only) MODE=build; shift; (($# == 0)) || die "--build-only takes no filters" ;;
--no-build) MODE=prebuilt; shift ;;
-*) die "unknown option $1 (usage: $0 [--build-only | --no-build] [FILTER...])" ;;
esac
readonly MODE

tools=(timeout unshare flock)
[[ $MODE == prebuilt ]] || {
    [[ -f $CONF_TARBALL ]] || die "no suite tarball at $CONF_TARBALL"
    tools+=(tar make apt-get dpkg sha256sum)
}
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# --- (a) Go ---------------------------------------------------------------------------------

go_ok() { # a go binary of version >= 1.21
    local v
    v=$("$1" env GOVERSION 2>/dev/null) || return 1
    v=${v#go}
    local major=${v%%.*} rest=${v#*.}
    local minor=${rest%%.*}
    ((major > 1 || (major == 1 && minor >= 21)))
}

fetch_go() {
    local dest=$CONF_CACHE/go
    if [[ -x $dest/$GO_ROOT_REL/bin/go ]] && go_ok "$dest/$GO_ROOT_REL/bin/go"; then
        GO=$dest/$GO_ROOT_REL/bin/go
        return
    fi
    log "fetching Go (${GO_DEBS[*]}) from Debian bookworm-backports into $dest"
    local apt
    apt=$(mktemp -d "${TMPDIR:-/tmp}/rt-conf-apt.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the directory is local
    trap "rm -rf '$apt'" RETURN
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
    printf '%s\n' "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
        >"$apt/sources.list"
    # A private source list, list directory and cache: the host's apt configuration (which
    # must not gain backports) is neither read for sources nor changed.
    local opts=(
        -o "Dir::Etc::SourceList=$apt/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists"
        -o "Dir::Cache=$apt/cache"
        -o "Dir::Cache::pkgcache="
        -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root"
        -qq
    )
    apt-get "${opts[@]}" update >&2
    (cd "$apt/debs" && apt-get "${opts[@]}" download "${GO_DEBS[@]}" >&2)
    rm -rf "$dest.new"
    mkdir -p "$dest.new"
    local deb
    for deb in "$apt"/debs/*.deb; do
        dpkg -x "$deb" "$dest.new"
    done
    go_ok "$dest.new/$GO_ROOT_REL/bin/go" || die "the downloaded Go does not run"
    rm -rf "$dest"
    mv "$dest.new" "$dest"
    GO=$dest/$GO_ROOT_REL/bin/go
}

# --- (b) the suite --------------------------------------------------------------------------

SUITE=$CONF_CACHE/runtime-tools

build_suite() {
    local stamp_want
    # Rebuilt when the tarball, the toolchain or this recipe changes.
    stamp_want="$(sha256sum <"$CONF_TARBALL" | cut -d' ' -f1) $("$GO" env GOVERSION) cgo0"
    if [[ -f $SUITE/.built && $(<"$SUITE/.built") == "$stamp_want" ]]; then
        return
    fi
    log "building the suite in $SUITE"
    rm -rf "$SUITE"
    mkdir -p "$SUITE"
    tar -xzf "$CONF_TARBALL" -C "$SUITE" --strip-components=1
    # Vendored dependencies, the toolchain at hand, no network, no C compiler (nothing in the
    # suite needs cgo; runtimetest comes out static either way).
    (
        cd "$SUITE"
        PATH="$(dirname "$GO"):$PATH"
        export PATH GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=vendor \
            GOCACHE="$CONF_CACHE/gocache" GOPATH="$CONF_CACHE/gopath" CGO_ENABLED=0
        make -j"$(nproc)" runtimetest validation-executables >"$CONF_CACHE/build.log" 2>&1
    ) || die "building the suite failed; see $CONF_CACHE/build.log"
    printf '%s\n' "$stamp_want" >"$SUITE/.built"
}

# --no-build: the suite as --build-only left it (the executables need no Go to run).
check_prebuilt() {
    [[ -f $SUITE/.built && -x $SUITE/runtimetest ]] ||
        die "no built suite in $SUITE: run scripts/conformance.sh --build-only first (with network)"
    compgen -G "$SUITE/validation/*/*.t" >/dev/null ||
        die "no validation executables in $SUITE: run scripts/conformance.sh --build-only first"
}

# --- (c) the runtime ------------------------------------------------------------------------

resolve_runtime() {
    case $RUNTIME_UNDER_TEST in
    rt)
        RT_NAME=rt
        if [[ -n ${RT_BIN:-} ]]; then
            RUNTIME_BIN=$(readlink -f "$RT_BIN")
        else
            log "cargo build --release"
            (cd "$REPO" && cargo build --release >&2)
            # .cargo/config.toml builds for the host tuple explicitly.
            local host
            host=$(rustc -vV | sed -n 's/^host: //p')
            RUNTIME_BIN=$REPO/target/$host/release/rt
        fi
        ;;
    */*)
        RT_NAME=$(basename "$RUNTIME_UNDER_TEST")
        RUNTIME_BIN=$(readlink -f "$RUNTIME_UNDER_TEST")
        ;;
    *)
        RT_NAME=$RUNTIME_UNDER_TEST
        if [[ $RUNTIME_UNDER_TEST == runc ]] && ! command -v runc >/dev/null; then
            log "apt-get install -y runc"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >&2
        fi
        RUNTIME_BIN=$(command -v "$RUNTIME_UNDER_TEST") || die "no runtime $RUNTIME_UNDER_TEST"
        ;;
    esac
    [[ -x $RUNTIME_BIN ]] || die "no runtime binary at $RUNTIME_BIN"
    # See the header: only rt is known to keep its cgroups out of the caller's own cgroup.
    if [[ $RT_NAME == rt ]]; then USE_CGROUPNS=0; else USE_CGROUPNS=1; fi
}

# --- the run's private state ----------------------------------------------------------------

WORK=
STATE_ROOT=
CHILD=
cleanup_done=0

runtime_cmd() { # run the runtime under test as the wrapper does, without logging
    if ((USE_CGROUPNS)); then
        unshare --cgroup -- "$RUNTIME_BIN" --root "$STATE_ROOT" "$@"
    else
        "$RUNTIME_BIN" --root "$STATE_ROOT" "$@"
    fi
}

# Force-delete every container under the private root; print the ids.
delete_leftover_containers() {
    [[ -n $STATE_ROOT && -d $STATE_ROOT ]] || return 0
    local id
    for id in $(runtime_cmd list -q 2>/dev/null || true); do
        runtime_cmd delete --force "$id" >/dev/null 2>&1 || true
        printf '%s\n' "$id"
    done
    # Whatever `list` did not show (a half-made container).
    local d
    for d in "$STATE_ROOT"/*/; do
        [[ -d $d ]] || continue
        id=$(basename "$d")
        runtime_cmd delete --force "$id" >/dev/null 2>&1 || true
        printf '%s\n' "$id"
    done
}

# The roots of all cgroup hierarchies (v1 and v2), from mountinfo.
cgroup_roots() {
    awk '$0 ~ / - cgroup2? / && $4 == "/" { print $5 }' /proc/self/mountinfo
}

# Remove a cgroup directory tree, deepest first (a cgroup with tasks cannot go; kill them).
remove_cgroup_tree() {
    local top=$1 dir pid
    [[ -d $top ]] || return 0
    case $top in */process_api | */process_api/*) return 0 ;; esac
    while IFS= read -r dir; do
        while read -r pid; do
            kill -9 "$pid" 2>/dev/null || true
        done < <(cat "$dir/cgroup.procs" 2>/dev/null)
    done < <(find "$top" -depth -type d)
    local _
    for _ in {1..10}; do
        find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [[ -d $top ]] || return 0
        sleep 0.2
    done
    printf 'could not remove %s\n' "$top" >&2
}

# Remove the suite's cgroups (and rt's/runc's own ones for the given container ids) at the
# root of every hierarchy; print what was removed. Never under process_api.
remove_leftover_cgroups() {
    local root name id dir
    for root in $(cgroup_roots); do
        for name in "${SUITE_CGROUPS[@]}"; do
            dir=$root/$name
            [[ -d $dir ]] || continue
            remove_cgroup_tree "$dir"
            printf '%s\n' "$dir"
        done
        for id in "$@"; do
            for dir in "$root/rt/$id" "$root/$id"; do
                [[ -d $dir ]] || continue
                remove_cgroup_tree "$dir"
                printf '%s\n' "$dir"
            done
        done
    done
}

# The caller's own cgroups that are not a hierarchy root (e.g. memory:/process_api/<hash>):
# checked, read-only, for the suite's names after every executable.
own_cgroup_dirs() {
    local line ctrls path
    while IFS= read -r line; do
        ctrls=${line#*:}
        ctrls=${ctrls%%:*}
        path=${line#*:*:}
        [[ $path == / ]] && continue
        # The hierarchy whose superblock options name these controllers ("" = cgroup2).
        awk -v ctrls="$ctrls" -v path="$path" '
            $4 != "/" { next }
            {
                sep = index($0, " - "); split(substr($0, sep + 3), post, " ")
                if (ctrls == "") { if (post[1] == "cgroup2") print $5 path; next }
                if (post[1] != "cgroup") next
                n = split(ctrls, want, ","); m = split(post[3], have, ",")
                found = 0
                for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) if (want[i] == have[j]) found++
                if (found == n) print $5 path
            }' /proc/self/mountinfo
    done </proc/self/cgroup
}

check_own_cgroups() {
    local dir name bad=0
    for dir in "${OWN_CGROUPS[@]}"; do
        for name in "${SUITE_CGROUPS[@]}" "${@}"; do
            if [[ -e $dir/$name ]]; then
                printf 'conformance.sh: the runtime made %s under the caller'"'"'s own cgroup; it must be removed by hand (this script never writes there)\n' "$dir/$name" >&2
                bad=1
            fi
        done
    done
    return "$bad"
}

cleanup() {
    ((cleanup_done)) && return 0
    cleanup_done=1
    set +e
    if [[ -n $STATE_ROOT ]]; then
        local left ids=()
        left=$(delete_leftover_containers)
        [[ -n $left ]] && log "force-deleted leftover containers: $(tr '\n' ' ' <<<"$left")"
        [[ -f $WORK/ids ]] && mapfile -t ids < <(sort -u "$WORK/ids")
        left=$(remove_leftover_cgroups "${ids[@]}")
        [[ -n $left ]] && log "removed leftover cgroups: $(tr '\n' ' ' <<<"$left")"
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        # Bundles live here (TMPDIR); a mount left in one must not be followed by rm.
        unmount_leaked >/dev/null
        rm -rf --one-file-system "$WORK"
    fi
    release_view_hierarchies
}

# The v1 hierarchies cgroup_view mounted are global. One whose last mount goes while a child
# cgroup is still there (removed cgroups are released asynchronously, seconds later; and a
# container's mount namespace, which holds a copy, dies with its init, before the runtime
# removes the container's cgroup) stays behind, unmounted but alive, keeping its controllers
# from the host (hugetlb out of the unified hierarchy). So ours stay mounted until only their
# root cgroup is left; their unmount is then the last and frees them, and the controllers go
# back where they were.
VIEW_MOUNTED=()
release_view_hierarchies() {
    local dir ctrl t0 _
    for dir in "${VIEW_MOUNTED[@]}"; do
        ctrl=$(basename "$dir")
        t0=$SECONDS
        while ((SECONDS - t0 < 60)) && [[ $(proc_cgroups "$ctrl" 3) != 1 ]]; do
            sleep 0.2
        done
        umount "$dir" 2>/dev/null
        for _ in {1..100}; do
            [[ $(proc_cgroups "$ctrl" 2) == 0 ]] && break
            sleep 0.1
        done
        if [[ $(proc_cgroups "$ctrl" 2) == 0 ]]; then
            log "cgroup view: the $ctrl v1 hierarchy is gone ($((SECONDS - t0)) s)"
        else
            log "cgroup view: the $ctrl v1 hierarchy is still there after the run (/proc/cgroups: $(proc_cgroups "$ctrl" 3) cgroups); mount and unmount it once they are gone"
        fi
    done
    VIEW_MOUNTED=()
}

# Field 2 (hierarchy id; 0: back with the host) or 3 (cgroup count) of /proc/cgroups for the
# first controller of CTRL.
proc_cgroups() {
    awk -v c="${1%%,*}" -v f="$2" '$1 == c { print $f }' /proc/cgroups
}

# Unmount whatever a runtime left mounted under the temp dir in this (the host's) mount
# namespace, deepest first; print the mount points. (runc, given no mount namespace, sets up
# the rootfs in the caller's and never undoes it.)
unmount_leaked() {
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null && printf '%s\n' "$m"
    done < <(awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

on_signal() {
    log "interrupted"
    # The executable in progress: timeout passes the TERM on to it.
    if [[ -n $CHILD ]]; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    cleanup
    trap - "$1"
    kill -s "$1" $$
}

# --- the cgroup view -------------------------------------------------------------------------

# This host mounts no v1 net_cls, net_prio or hugetlb hierarchy (hugetlb is on the cgroup2
# mount /sys/fs/cgroup/unified, net_cls and net_prio nowhere), and the suite checks those limits
# in v1 files. The run happens in a private mount namespace (main re-executes under unshare)
# where /sys/fs/cgroup is a fresh tmpfs holding the host's hierarchies again plus those three,
# as a hybrid host that mounts them has it: the host's /sys/fs/cgroup is not touched. A v1
# hierarchy is global while mounted, so hugetlb leaves the unified hierarchy for the run (it
# must not be in use there) and returns when the namespace ends.
cgroup_view() {
    local base=/sys/fs/cgroup unified=/sys/fs/cgroup/unified
    [[ $(readlink /proc/self/ns/mnt) != $(readlink /proc/1/ns/mnt) ]] ||
        die "cgroup_view: not in a private mount namespace"
    [[ ! -e $base/net_cls && ! -e $base/net_prio && ! -e $base/hugetlb ]] || return 0
    if [[ -f $base/cgroup.controllers ]]; then
        # cgroup v2 only (the VM of scripts/vm/v2-tests.sh): no v1 hierarchy can be mounted
        # (cgroup_no_v1=all), and the suite reads none there anyway.
        log "cgroup view: cgroup v2 only, nothing to add"
        return 0
    fi
    local old=$WORK/host-cgroup e name
    mkdir -p "$old"
    mount --rbind "$base" "$old"
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs "$base"
    for e in "$old"/*; do
        name=$(basename "$e")
        if [[ -L $e ]]; then
            ln -s "$(readlink "$e")" "$base/$name"
        elif [[ -d $e ]]; then
            mkdir "$base/$name"
            mount --rbind "$e" "$base/$name"
        fi
    done
    umount -l "$old"
    rmdir "$old"
    mkdir "$base/net_cls,net_prio"
    if mount -t cgroup -o nosuid,nodev,noexec,net_cls,net_prio cgroup "$base/net_cls,net_prio"; then
        VIEW_MOUNTED+=("$base/net_cls,net_prio")
        ln -s net_cls,net_prio "$base/net_cls"
        ln -s net_cls,net_prio "$base/net_prio"
        log "cgroup view: a v1 net_cls,net_prio hierarchy is mounted for the run"
    else
        rmdir "$base/net_cls,net_prio"
        log "cgroup view: net_cls,net_prio cannot be mounted: the network tests are expected to fail"
        VIEW_EXPECTED+=(linux_cgroups_network linux_cgroups_relative_network)
    fi
    # Only a controller no cgroup uses can move to a v1 hierarchy.
    if [[ -f $unified/cgroup.subtree_control ]] && grep -qw hugetlb "$unified/cgroup.subtree_control"; then
        log "cgroup view: hugetlb is in use in $unified: the hugetlb tests are expected to fail"
        VIEW_EXPECTED+=(linux_cgroups_hugetlb linux_cgroups_relative_hugetlb)
    elif mkdir "$base/hugetlb" && mount -t cgroup -o nosuid,nodev,noexec,hugetlb cgroup "$base/hugetlb"; then
        VIEW_MOUNTED+=("$base/hugetlb")
        log "cgroup view: a v1 hugetlb hierarchy is mounted for the run"
    else
        rmdir "$base/hugetlb" 2>/dev/null || true
        log "cgroup view: hugetlb cannot be mounted as a v1 hierarchy: the hugetlb tests are expected to fail"
        VIEW_EXPECTED+=(linux_cgroups_hugetlb linux_cgroups_relative_hugetlb)
    fi
}
VIEW_EXPECTED=()

# --- (d) run one executable -----------------------------------------------------------------

# Outcome of one executable, from its TAP stream, its exit status and its kind. Prints
# "pass" or "fail<TAB>reason".
judge() {
    local name=$1 tap=$2 status=$3
    if ((status == 124 || status == 137)); then
        printf 'fail\ttimed out after %ss\n' "$CONF_TIMEOUT"
        return
    fi
    # Top-level TAP lines only: nested TAP (runtimetest's, inside a YAML block) is indented.
    # Some executables print several TAP documents (linux_cgroups_cpus and linux_cgroups_hugetlb
    # make a tap.T per part, each with its own "TAP version 13" header and AutoPlan): each
    # document needs its own plan matching its own results.
    local streams plan_problem notok first_notok plan
    streams=$(grep -c '^TAP version' "$tap" || true)
    plan_problem=$(awk '
        function close_doc() {
            if (!open) return
            if (plans != 1) { printf "document %d: %d plan lines\n", doc, plans; exit }
            if (plan != results) { printf "document %d: plan 1..%d but %d results\n", doc, plan, results; exit }
            # hooks, prestart, poststart, poststop: only a diagnostic tells their failure.
            if (plan == 0 && err != "") { printf "1..0 with error: %s\n", err; exit }
        }
        /^TAP version/ { close_doc(); doc++; open = 1; plans = 0; results = 0; err = ""; next }
        /^ +"error": / && err == "" { err = $0; sub(/^ +"error": "?/, "", err); sub(/",?$/, "", err); sub(/\\n.*/, "", err); err = substr(err, 1, 200) }
        /^1\.\.[0-9]+/ { if (!open) { open = 1; doc++ } plans++; plan = substr($1, 4) + 0; next }
        /^(not )?ok [0-9]+/ { if (!open) { open = 1; doc++ } results++ }
        END { close_doc() }' "$tap")
    notok=$(grep -cE '^not ok [0-9]+' "$tap" || true)
    first_notok=$(grep -m1 -E '^not ok [0-9]+' "$tap" | sed -E 's/^not ok [0-9]+ (- )?//' || true)
    # The last plan: "1..0" for the hook executables that report only through a diagnostic.
    plan=$(grep -oE '^1\.\.[0-9]+' "$tap" | tail -n1 | cut -c4- || true)

    case $name in
    process_capabilities_fail | process_rlimits_fail)
        # util.RuntimeInsideValidate returns the create error (nothing on stdout) and main
        # exits 0; if the runtime accepted the config, util.Fatal exits 1 after the container's
        # TAP was copied to stdout.
        if ((status == 0)) && [[ ! -s $tap ]]; then
            echo pass
        elif ((status == 0)); then
            printf 'fail\texit 0 but output (the runtime ran the container)\n'
        else
            printf 'fail\texit %s: the runtime accepted the invalid config: %s\n' "$status" \
                "$(grep -m1 -v '^ *$' "${tap%.tap}.err" | cut -c1-150)"
        fi
        return
        ;;
    *_fail)
        # prestart_fail, poststart_fail, poststop_fail: Header(0), then only on failure a YAML
        # block with an "error" key, then AutoPlan() = "1..0".
        if ((status == 0)) && [[ $plan == 0 ]] && ! grep -qE '^  *"error":' "$tap"; then
            echo pass
        elif ((status != 0)); then
            printf 'fail\texit status %s\n' "$status"
        else
            printf 'fail\t%s\n' "$(grep -m1 -E '^  *"error":' "$tap" | sed -E 's/^ *"error": *"?//; s/",?$//; s/\\n.*//' | cut -c1-200)"
        fi
        return
        ;;
    esac

    if ((notok > 0)); then
        printf 'fail\tnot ok: %s\n' "$first_notok"
    elif ((status != 0)); then
        local why # the suite's own line ("failed to create the container") and the runtime's
        why=$(grep -v '^ *$' "${tap%.tap}.err" | head -n2 | paste -sd'|' | sed 's/|/: /' | cut -c1-200)
        printf 'fail\texit status %s: %s\n' "$status" "${why:-no stderr}"
    elif ((streams == 0)) || [[ -z $plan ]]; then
        printf 'fail\tno TAP plan\n'
    elif [[ -n $plan_problem ]]; then
        printf 'fail\t%s\n' "$plan_problem"
    else
        echo pass
    fi
}

# --- main -----------------------------------------------------------------------------------

main() {
    local filters=("$@")
    if [[ $MODE == build ]]; then
        fetch_go
        build_suite
        log "the suite is built in $SUITE"
        return 0
    fi
    # A private mount namespace for the whole run (see cgroup_view).
    if [[ ${CONF_IN_VIEW:-0} != 1 ]]; then
        local opt=()
        [[ $MODE == prebuilt ]] && opt=(--no-build)
        exec env CONF_IN_VIEW=1 unshare --mount --propagation private -- "$0" "${opt[@]}" "$@"
    fi
    if [[ $MODE == prebuilt ]]; then
        check_prebuilt
    else
        fetch_go
        build_suite
    fi
    resolve_runtime

    CONF_RESULTS=${CONF_RESULTS:-$CONF_CACHE/results/$RT_NAME}
    rm -rf "$CONF_RESULTS"
    mkdir -p "$CONF_RESULTS"

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rt-conf.XXXXXX")
    STATE_ROOT=$WORK/root
    mkdir -p "$STATE_ROOT" "$WORK/tmp"
    # Searchable by anyone, as /tmp's children usually are: a user-namespace container's root
    # (an unprivileged host uid) must reach its bundle; the suite's own 0700 bundle directories
    # then decide, not ours.
    chmod 755 "$WORK" "$WORK/tmp"
    trap cleanup EXIT
    trap 'on_signal INT' INT
    trap 'on_signal TERM' TERM
    trap 'on_signal HUP' HUP

    cgroup_view
    mapfile -t OWN_CGROUPS < <(own_cgroup_dirs)

    # The suite's cgroup names are global: one run at a time. An empty leftover (a run that
    # was killed) is removed; one holding processes means another run is going on.
    exec 9>"$CONF_CACHE/.lock"
    flock -n 9 || die "another conformance run holds $CONF_CACHE/.lock"
    local root name
    for root in $(cgroup_roots); do
        for name in "${SUITE_CGROUPS[@]}"; do
            [[ -d $root/$name ]] || continue
            if [[ -n $(find "$root/$name" -name cgroup.procs -exec cat {} + 2>/dev/null) ]]; then
                die "$root/$name holds processes: is another conformance run going on?"
            fi
            log "removing stale $root/$name"
            remove_cgroup_tree "$root/$name"
        done
    done

    # The RUNTIME the suite runs: the runtime under test with a private --root. RTCONF_NAME
    # (set per executable) names the files that record each call and the runtime's log.
    local wrapper=$WORK/$RT_NAME
    # shellcheck disable=SC2016 # $* and $RTCONF_NAME are the wrapper's, at its run time
    {
        echo '#!/bin/sh'
        printf 'printf "%%s\\n" "$*" >>"%s/$RTCONF_NAME.calls"\n' "$CONF_RESULTS"
        printf 'exec %s%q --root %q --log "%s/$RTCONF_NAME.log"%s "$@"\n' \
            "$( ((USE_CGROUPNS)) && echo 'unshare --cgroup -- ')" "$RUNTIME_BIN" "$STATE_ROOT" \
            "$CONF_RESULTS" "$( ((CONF_DEBUG)) && echo ' --debug')"
    } >"$wrapper"
    chmod 755 "$wrapper"

    local names=() t name f
    for t in "$SUITE"/validation/*/*.t; do
        name=$(basename "$t" .t)
        if ((${#filters[@]})); then
            local hit=0
            for f in "${filters[@]}"; do
                [[ $name =~ $f ]] && hit=1
            done
            ((hit)) || continue
        fi
        names+=("$name")
    done
    ((${#names[@]})) || die "no executable matches: ${filters[*]}"

    local expected=()
    if [[ -f $CONF_EXPECTED ]]; then
        mapfile -t expected < <(sed -E 's/#.*//; s/[[:space:]]+//g; /^$/d' "$CONF_EXPECTED")
    fi
    expected+=("${VIEW_EXPECTED[@]}")
    is_expected() {
        local e
        for e in "${expected[@]}"; do [[ $e == "$1" ]] && return 0; done
        return 1
    }

    log "runtime: $RUNTIME_BIN ($("$RUNTIME_BIN" --version 2>/dev/null | head -n1))"
    log "${#names[@]} executables, results in $CONF_RESULTS"
    local pass=0 fail=0 xfail=0 unexpected=() fixed=() rows=()
    for name in "${names[@]}"; do
        local status=0 verdict reason leftovers ids=() started=$SECONDS
        # From the repository root: the executables find ./runtimetest and ./rootfs-*.tar.gz
        # there. TMPDIR holds their bundles (os.MkdirTemp), under our temp dir. In the
        # background, so that a signal to this script interrupts the wait at once (timeout
        # runs in a process group of its own, which a terminal's Ctrl-C does not reach).
        (
            cd "$SUITE"
            export RUNTIME=$wrapper RTCONF_NAME=$name TMPDIR=$WORK/tmp
            exec timeout --kill-after=10 "$CONF_TIMEOUT" "./validation/$name/$name.t"
        ) >"$CONF_RESULTS/$name.tap" 2>"$CONF_RESULTS/$name.err" </dev/null &
        CHILD=$!
        wait "$CHILD" || status=$?
        CHILD=

        verdict=$(judge "$name" "$CONF_RESULTS/$name.tap" "$status")
        reason=$(printf '%s' "$verdict" | cut -sf2)
        verdict=$(printf '%s' "$verdict" | cut -f1)
        # The first error the runtime logged (some are the ones a test asks for), when the
        # reason does not already quote it.
        if [[ $verdict != pass && -f $CONF_RESULTS/$name.log ]]; then
            local said
            said=$(grep -m1 'level=error' "$CONF_RESULTS/$name.log" | sed -E 's/.*msg="(.*)"$/\1/; s/\\"/"/g' | cut -c1-120 || true)
            [[ -n $said && $reason != *"$said"* ]] && reason+=" [runtime: $said]"
        fi

        # Leftovers of this executable: containers, cgroups, bundles.
        mapfile -t ids < <(grep -ohE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' \
            "$CONF_RESULTS/$name.calls" 2>/dev/null | sort -u)
        ((${#ids[@]})) && printf '%s\n' "${ids[@]}" >>"$WORK/ids"
        leftovers=$(delete_leftover_containers)
        [[ -n $leftovers ]] && sed 's/^/force-deleted after the run: /' <<<"$leftovers" >>"$CONF_RESULTS/$name.err"
        leftovers=$(unmount_leaked)
        [[ -n $leftovers ]] && sed 's/^/unmounted a mount the runtime left on the host: /' <<<"$leftovers" >>"$CONF_RESULTS/$name.err"
        leftovers=$(remove_leftover_cgroups "${ids[@]}")
        [[ -n $leftovers ]] && sed 's/^/removed cgroup after the run: /' <<<"$leftovers" >>"$CONF_RESULTS/$name.err"
        check_own_cgroups "${ids[@]}" || die "stopping: cgroups were made under the caller's own cgroup"
        rm -rf --one-file-system "${WORK:?}"/tmp/* 2>/dev/null || true

        local mark=""
        if [[ $verdict == pass ]]; then
            pass=$((pass + 1))
            if is_expected "$name"; then
                fixed+=("$name")
                mark=" (listed as expected failure)"
            fi
        else
            fail=$((fail + 1))
            if is_expected "$name"; then
                xfail=$((xfail + 1))
                mark=" (expected)"
            else
                unexpected+=("$name")
            fi
        fi
        rows+=("$(printf '%-36s %-4s %s' "$name" "$verdict" "${reason}${mark}")")
        printf '%-36s %s%s (%ds)\n' "$name" "$verdict" "$mark" $((SECONDS - started)) >&2
    done

    {
        printf '\n%-36s %-4s %s\n' EXECUTABLE RES "FIRST FAILURE"
        printf '%s\n' "${rows[@]}"
        printf '\n%s: %d passed, %d failed (%d expected, %d unexpected) of %d\n' "$RT_NAME" \
            "$pass" "$fail" "$xfail" "${#unexpected[@]}" "${#names[@]}"
        ((${#fixed[@]})) && printf 'note: listed as expected failures but passed: %s\n' "${fixed[*]}"
        ((${#unexpected[@]})) && printf 'UNEXPECTED FAILURES: %s\n' "${unexpected[*]}"
        true
    } | tee "$CONF_RESULTS/summary.txt"

    ((${#unexpected[@]} == 0))
}

main "$@"
