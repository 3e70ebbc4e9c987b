#!/usr/bin/env bash
# The layers of docs/design.md, checked on the source: data flows one way, main -> cli ->
# container -> process -> mechanism modules. A module may use those below it, never one above.
#
#   scripts/layers.sh        # exits 1, naming each line that imports upward
#
# Every top-level module of src/ must be in one layer below (a new module fails the check until
# it is placed), so that the list stays whole, and named in the README's "Source layout".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Highest first.
layers=(
    "cli"
    "container"
    "process"
    # Mechanism modules: each owns one kernel concept, knows nothing of the CLI or the state
    # store, and may use the others and the helpers below.
    "capabilities cgroups criu hooks lsm mountapi namespaces procfs rootfs seccomp tty"
    # Helpers every layer uses.
    "errno logging mountinfo pidinfo rootless signal sys testpoint timestamp variants"
)

status=0
declare -A layer_of
for i in "${!layers[@]}"; do
    for m in ${layers[$i]}; do layer_of[$m]=$i; done
done

# Every module declared in main.rs has a layer.
for m in $(sed -n 's/^\(pub \)\?mod \([a-z_0-9]*\);$/\2/p' src/main.rs); do
    if [[ -z ${layer_of[$m]:-} ]]; then
        echo "layers: src/$m: not in any layer of scripts/layers.sh" >&2
        status=1
    fi
done

# The README's "Source layout" names every module.
for m in $(sed -n 's/^\(pub \)\?mod \([a-z_0-9]*\);$/\2/p' src/main.rs); do
    if ! grep -q "\`src/$m[/.]" README.md; then
        echo "layers: src/$m: not in the README's \"Source layout\"" >&2
        status=1
    fi
done

for i in "${!layers[@]}"; do
    ((i > 0)) || continue
    above=()
    for ((j = 0; j < i; j++)); do above+=(${layers[$j]}); done
    pattern="crate::(\\{[^}]*\\b)?($(IFS='|'; echo "${above[*]}"))\\b"
    for m in ${layers[$i]}; do
        paths=()
        [[ -e src/$m.rs ]] && paths+=("src/$m.rs")
        [[ -d src/$m ]] && paths+=("src/$m")
        ((${#paths[@]})) || continue
        # Code only: a comment may name another layer.
        hits=$(grep -rnE "$pattern" "${paths[@]}" | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
        if [[ -n $hits ]]; then
            echo "layers: $m may not use a layer above it (${above[*]}):" >&2
            echo "$hits" >&2
            status=1
        fi
    done
done
((status)) || echo "layers: every module imports only the layers below it"
exit "$status"
