#!/usr/bin/env bash
# Training speed of the trainer against PyTorch on this CPU: the same presets, batch, optimiser and
# thread count, run alternately per preset so that both see the same machine load.
#
#   bench/train-speed.sh [PRESET...]          # default: mlp mcu dcgan cmcu cdcgan
#   SIMD_PATHS="avx512 avx2 portable" THREADS="1 2" bench/train-speed.sh
#
# Environment: ROUNDS (alternating rounds per preset, default 3), THREADS (thread counts, one
# table row each, default 2), SIMD_PATHS (the trainer's kernel paths to time, each a
# TRAINER_SIMD value run against the same PyTorch runs, default: TRAINER_SIMD if set, else the
# path the trainer picks itself; a path this CPU lacks stops the script; "baseline" times
# the train_speed binary BASELINE_BIN, an earlier build, on its own choice of path),
# TORCH_MATCH_ISA (default 1: the trainer's avx2 and portable paths are compared with PyTorch
# capped at AVX2 too — ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS — which
# is what a CPU without AVX-512 runs; 0: every path against PyTorch as it is on this CPU),
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
read -r -a thread_counts <<<"${THREADS:-2}"
read -r -a simd_paths <<<"${SIMD_PATHS:-${TRAINER_SIMD:-auto}}"
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

# run_trainer PATH THREADS PRESET WARMUP ITERATIONS; the trainer reports the path it ran
# (simd=...), which must be the one asked for ("auto": whichever it picks).
run_trainer() {
    local line
    if [ "$1" = auto ] || [ "$1" = baseline ]; then
        local bin=$trainer_bin
        [ "$1" = auto ] || bin=${BASELINE_BIN:?SIMD_PATHS has baseline: set BASELINE_BIN}
        line=$(env -u TRAINER_SIMD RAYON_NUM_THREADS="$2" MNIST_DIR="$data" "$bin" --model "$3" --warmup "$4" --iterations "$5")
    else
        line=$(TRAINER_SIMD=$1 RAYON_NUM_THREADS="$2" MNIST_DIR="$data" "$trainer_bin" --model "$3" --warmup "$4" --iterations "$5")
        case " $line " in
        *" simd=$1 "*) ;;
        *) echo "asked for TRAINER_SIMD=$1 but the trainer ran: $line" >&2; exit 1 ;;
        esac
    fi
    echo "$line asked=$1"
}
# The PyTorch a trainer path is compared with: "native" (whatever it picks on this CPU) or
# "avx2" (capped at AVX2 + FMA, as on a CPU without AVX-512).
torch_isa() {
    case ${TORCH_MATCH_ISA:-1}:$1 in
    1:avx2 | 1:portable) echo avx2 ;;
    *) echo native ;;
    esac
}

# run_pytorch ISA THREADS PRESET WARMUP ITERATIONS
# (-W: torch warns at import that NumPy is missing; the benchmark does not use it.)
run_pytorch() {
    local cap=()
    [ "$1" = native ] || cap=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2)
    echo "$(env "${cap[@]}" OMP_NUM_THREADS="$2" OMP_WAIT_POLICY="${TORCH_OMP_WAIT_POLICY:-PASSIVE}" \
        "$venv/bin/python" -W "ignore:Failed to initialize NumPy" bench/pytorch/gan_bench.py --model "$3" \
        --warmup "$4" --iterations "$5" --threads "$2" --data "$data") isa=$1"
}

# One round runs every trainer path and every PyTorch variant once: odd rounds in this order,
# even rounds in reverse, so that each sees the machine's load drift from both sides. The trainer
# runs first in round 1 so that it fetches MNIST into its cache when needed.
jobs=()
for s in "${simd_paths[@]}"; do jobs+=("trainer:$s"); done
for s in "${simd_paths[@]}"; do
    case " ${jobs[*]} " in *" pytorch:$(torch_isa "$s") "*) ;; *) jobs+=("pytorch:$(torch_isa "$s")") ;; esac
done
load_before=$(uptime)
: >"$log"
for p in "${presets[@]}"; do
    read -r warmup timed < <(iterations "$p")
    for threads in "${thread_counts[@]}"; do
        for ((r = 1; r <= rounds; r++)); do
            order=("${jobs[@]}")
            if ((r % 2 == 0)); then
                order=()
                for ((i = ${#jobs[@]} - 1; i >= 0; i--)); do order+=("${jobs[i]}"); done
            fi
            for job in "${order[@]}"; do
                case $job in
                trainer:*) run_trainer "${job#*:}" "$threads" "$p" "$warmup" "$timed" ;;
                pytorch:*) run_pytorch "${job#*:}" "$threads" "$p" "$warmup" "$timed" ;;
                esac | tee -a "$log" >&2
            done
        done
    done
done
load_after=$(uptime)

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; SIMD flags: $(grep -m1 -o -w -E 'avx2|fma|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "threads: ${thread_counts[*]}; rounds: $rounds; torch $torch_version (OMP_WAIT_POLICY=${TORCH_OMP_WAIT_POLICY:-PASSIVE})"
echo "load before: ${load_before##*load average: }   after: ${load_after##*load average: }"
echo
isas=()
for s in "${simd_paths[@]}"; do isas+=("$(torch_isa "$s")"); done
awk -v order="${presets[*]}" -v paths="${simd_paths[*]}" -v isas="${isas[*]}" -v thread_counts="${thread_counts[*]}" '
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
    # A trainer run is keyed by the path it asked for, PyTorch by its instruction set.
    /^framework=/ {
        path = field("framework") == "trainer" ? field("asked") : field("isa")
        key = field("framework") SUBSEP field("model") SUBSEP field("threads") SUBSEP path
        ms[key] = ms[key] " " field("median_ms")
        cpu[key] = cpu[key] " " field("cpu_ms")
        if (field("peak_rss_mib") + 0 > rss[key] + 0) rss[key] = field("peak_rss_mib")
    }
    END {
        print "| preset | threads | trainer path / PyTorch | trainer ms/it (range) | PyTorch ms/it (range) | ratio | CPU ms/it trainer / PyTorch | peak RSS trainer / PyTorch |"
        print "|---|---:|---|---:|---:|---:|---:|---:|"
        n = split(order, names, " "); np = split(paths, path_list, " "); nt = split(thread_counts, tc, " ")
        split(isas, isa_list, " ")
        for (i = 1; i <= n; i++) for (h = 1; h <= nt; h++) for (s = 1; s <= np; s++) {
            t = "trainer" SUBSEP names[i] SUBSEP tc[h] SUBSEP path_list[s]
            q = "pytorch" SUBSEP names[i] SUBSEP tc[h] SUBSEP isa_list[s]
            mt = median(ms[t]); mq = median(ms[q])
            printf "| %s | %s | %s / %s | %.1f (%s) | %.1f (%s) | **%.2f** | %.1f / %.1f | %.0f / %.0f MiB |\n", names[i], tc[h], path_list[s], isa_list[s], mt, range(ms[t]), mq, range(ms[q]), mt / mq, median(cpu[t]), median(cpu[q]), rss[t], rss[q]
        }
    }' "$log"
