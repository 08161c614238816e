#!/usr/bin/env bash
# Training speed of the trainer against PyTorch on this CPU: the same presets, batch, optimiser and
# thread count, run alternately per preset so that both see the same machine load.
#
#   bench/train-speed.sh [PRESET...]          # default: mlp mcu dcgan cmcu cdcgan
#
# Environment: ROUNDS (alternating rounds per preset, default 3), THREADS (default 2),
# MNIST_DIR (else the trainer's cache, downloaded on first use), TRAIN_SPEED_VENV (the throw-away
# virtualenv for PyTorch, default target/train-speed-venv; PyTorch comes from PyPI and is a
# benchmark dependency only), TORCH_OMP_WAIT_POLICY (default PASSIVE: with its default, PyTorch's
# OpenMP threads spin while they wait, and on a shared machine whose cores are busy that made it
# several times slower here — 585 against 109 ms per MLP iteration at load 10), CARGO_TARGET_DIR.
#
# Each process reports the median wall time of its timed iterations (after a warm-up), its CPU
# time per iteration (all threads) and its peak RSS; the table shows, per preset, the median over
# rounds (and the range), the ratio trainer / PyTorch of the wall times (below 1: the trainer is
# faster), and the machine load before and after, since these machines are shared.
set -euo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(mlp mcu dcgan cmcu cdcgan)
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
target=${CARGO_TARGET_DIR:-target}
venv=${TRAIN_SPEED_VENV:-$target/train-speed-venv}
torch_version=2.15.0
log=$target/train-speed.log

# Warm-up and timed iterations per preset: a few seconds of timing each.
iterations() {
    case $1 in
    mlp) echo "20 200" ;;
    mcu | cmcu) echo "5 40" ;;
    dcgan | cdcgan) echo "3 20" ;;
    *) echo "unknown preset $1" >&2; exit 2 ;;
    esac
}

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "installing PyTorch $torch_version into $venv (once; several GB with its CUDA libraries)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "torch==$torch_version"
fi

cargo build --quiet --release -p trainer --example train_speed
trainer_bin=$target/release/examples/train_speed
data=${MNIST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gan-digits/mnist}

run_trainer() {
    RAYON_NUM_THREADS=$threads MNIST_DIR=$data "$trainer_bin" --model "$1" --warmup "$2" --iterations "$3"
}
# (-W: torch warns at import that NumPy is missing; the benchmark does not use it.)
run_pytorch() {
    OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=${TORCH_OMP_WAIT_POLICY:-PASSIVE} \
        "$venv/bin/python" -W "ignore:Failed to initialize NumPy" bench/pytorch/gan_bench.py --model "$1" \
        --warmup "$2" --iterations "$3" --threads "$threads" --data "$data"
}

# The trainer runs first in round 1 so that it fetches MNIST into its cache when needed.
load_before=$(uptime)
: >"$log"
for p in "${presets[@]}"; do
    read -r warmup timed < <(iterations "$p")
    for ((r = 1; r <= rounds; r++)); do
        if ((r % 2 == 1)); then
            run_trainer "$p" "$warmup" "$timed" | tee -a "$log" >&2
            run_pytorch "$p" "$warmup" "$timed" | tee -a "$log" >&2
        else
            run_pytorch "$p" "$warmup" "$timed" | tee -a "$log" >&2
            run_trainer "$p" "$warmup" "$timed" | tee -a "$log" >&2
        fi
    done
done
load_after=$(uptime)

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; threads: $threads; rounds: $rounds; torch $torch_version (OMP_WAIT_POLICY=${TORCH_OMP_WAIT_POLICY:-PASSIVE})"
echo "load before: ${load_before##*load average: }   after: ${load_after##*load average: }"
echo
awk -v order="${presets[*]}" '
    function field(key,   i, kv) {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] }
        return ""
    }
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function range(list,   n, a, i, lo, hi) {
        n = split(list, a, " "); lo = hi = a[1]
        for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
        return sprintf("%.1f–%.1f", lo, hi)
    }
    /^framework=/ {
        key = field("framework") SUBSEP field("model")
        ms[key] = ms[key] " " field("median_ms")
        cpu[key] = cpu[key] " " field("cpu_ms")
        if (field("peak_rss_mib") + 0 > rss[key] + 0) rss[key] = field("peak_rss_mib")
    }
    END {
        print "| preset | trainer ms/it (range) | PyTorch ms/it (range) | ratio | CPU ms/it trainer / PyTorch | peak RSS trainer / PyTorch |"
        print "|---|---:|---:|---:|---:|---:|"
        n = split(order, names, " ")
        for (i = 1; i <= n; i++) {
            t = "trainer" SUBSEP names[i]; q = "pytorch" SUBSEP names[i]
            mt = median(ms[t]); mq = median(ms[q])
            printf "| %s | %.1f (%s) | %.1f (%s) | **%.2f** | %.1f / %.1f | %.0f / %.0f MiB |\n", names[i], mt, range(ms[t]), mq, range(ms[q]), mt / mq, median(cpu[t]), median(cpu[q]), rss[t], rss[q]
        }
    }' "$log"
