#!/usr/bin/env bash
# Fuzz config.json loading and validation (src/container/config.rs) for a bounded time.
#
#   ./scripts/fuzz.sh [SECONDS]     (default 60)
#
# Runs cargo-fuzz's `config` target (fuzz/fuzz_targets/config.rs) from the committed seeds
# (fuzz/seeds/config: the runtime-spec's schema test configs, `rt spec` output and a rich
# config) plus the corpus earlier runs grew (fuzz/corpus/config, not committed), with a
# dictionary of the spec's field names (fuzz/config.dict). A panic, a crash, an input that
# takes over 10 s (a hang) or over 2 GiB (a runaway allocation) fails the run and leaves the
# input in fuzz/artifacts/config/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run config fuzz/artifacts/config/<file>
# and add it to the unit tests of src/container/config.rs or to integration/hostile.rs.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, about 3 minutes; installed here when
# missing). cargo-fuzz wants nightly compiler flags (sanitizers, -Z options); on a stable
# toolchain RUSTC_BOOTSTRAP=1 allows them, which is what this script does. Root is not needed.
set -euo pipefail

secs=${1:-60}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "fuzz: SECONDS must be a positive number" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
PATH=$PATH:${HOME:-/root}/.cargo/bin

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
corpus=$repo/fuzz/corpus/config
mkdir -p "$corpus"
# libFuzzer's own limits: -timeout per input, -rss_limit_mb for the process, -max_len for
# generated inputs (seeds may be longer); -print_final_stats for the log.
exec cargo fuzz run config "$corpus" "$repo/fuzz/seeds/config" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -dict="$repo/fuzz/config.dict" -print_final_stats=1
