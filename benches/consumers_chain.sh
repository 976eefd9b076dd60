#!/usr/bin/env bash
# Benchmark of the Stage 2/3 consumers chained after Detector1 on a simulated 200-integration
# SUBGRISM256-size exposure (10 groups x 256 x 2048): `sloper detector1` alone versus
# `sloper run --pipeline detector1,image2,tso3` (image2 flat_field + photom -> _cal/_calints,
# tso3 outlier window -> _crfints, then photometry (imaging TSO) or white light (grism TSO)),
# each under /usr/bin/time -v, and the consumer phase alone (`sloper run X_rateints.fits
# --pipeline image2,tso3` on detector1's output). Prints a markdown table: wall time, peak RSS,
# and the consumers' share of the chain's time and CPU.
#
# The exposure and every reference (Detector1's, and image2's flat, photom and area) come from
# `sloper simulate`; nothing else is needed. For NRC_TSGRISM image2 flat-fields and skips photom.
#
# usage: benches/consumers_chain.sh [NRC_TSIMAGE|NRC_TSGRISM ...]   (default: both)
# env:   BENCH_DIR (default /tmp/sloper-bench-consumers), NINTS (default 200),
#        SLOPER (default target/release/sloper), REPEAT (runs of each command, default 1; the
#        table shows the fastest)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
cargo build --release --quiet
SLOPER="${SLOPER:-$HERE/target/release/sloper}"
DIR="${BENCH_DIR:-/tmp/sloper-bench-consumers}"
N="${NINTS:-200}"
REPEAT="${REPEAT:-1}"
TYPES=("$@"); [ ${#TYPES[@]} -eq 0 ] && TYPES=(NRC_TSIMAGE NRC_TSGRISM)
B=jw01234001001_01101_00001_nrcalong
secs() { grep "Elapsed (wall" "$1" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'; }
rss() { echo $(( $(grep "Maximum resident" "$1" | awk '{print $NF}') / 1024 )); }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "| EXP_TYPE | NINTS | detector1 s | detector1 RSS MiB | chain s | chain RSS MiB | consumers s (in chain) | consumers / detector1 wall (in chain) | (chain - detector1) / detector1 wall | consumers / detector1 CPU (in chain) | consumers alone: RSS MiB, CPU s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for ty in "${TYPES[@]}"; do
  d="$DIR/$ty-n$N"
  u="$d/${B}_uncal.fits"
  if [ ! -f "$u" ] || [ ! -f "$d/ref_flat.fits" ]; then
    rm -rf "$d"
    "$SLOPER" simulate --exp-type "$ty" --nints "$N" --ngroups 10 --ny 256 --nx 2048 --seed 7 --outdir "$d" > /dev/null
  fi
  best_d1=""; best_chain=""
  for r in $(seq "$REPEAT"); do
    dd if="$u" of=/dev/null bs=1M 2> /dev/null   # warm the page cache for both runs alike
    rm -rf "$d/d1" "$d/chain"
    /usr/bin/time -v -o "$d/time_d1.$r.txt" "$SLOPER" detector1 "$u" --refs "$d" --output_dir="$d/d1" \
        --no-progress > /dev/null 2> "$d/d1.log"
    sync
    dd if="$u" of=/dev/null bs=1M 2> /dev/null
    /usr/bin/time -v -o "$d/time_chain.$r.txt" "$SLOPER" run "$u" --pipeline detector1,image2,tso3 \
        --refs "$d" --output_dir="$d/chain" --no-progress > "$d/chain.out" 2> "$d/chain.$r.log"
    sync
    rm -rf "$d/cons"
    /usr/bin/time -v -o "$d/time_cons.$r.txt" "$SLOPER" run "$d/d1/${B}_rateints.fits" --pipeline image2,tso3 \
        --refs "$d" --output_dir="$d/cons" --no-progress > /dev/null 2> "$d/cons.$r.log"
    rm -rf "$d/cons"
    if [ -z "$best_d1" ] || [ "$(echo "$(secs "$d/time_d1.$r.txt") < $(secs "$d/time_d1.$best_d1.txt")" | bc)" = 1 ]; then best_d1=$r; fi
    if [ -z "$best_chain" ] || [ "$(echo "$(secs "$d/time_chain.$r.txt") < $(secs "$d/time_chain.$best_chain.txt")" | bc)" = 1 ]; then best_chain=$r; fi
  done
  w1=$(secs "$d/time_d1.$best_d1.txt"); w2=$(secs "$d/time_chain.$best_chain.txt")
  # The chain prints its own split (detector1 / consumers) on its last line.
  cons=$(grep -o "consumers [0-9.]* s;" "$d/chain.$best_chain.log" | awk '{print $2}')
  d1in=$(grep -o "(detector1 [0-9.]* s," "$d/chain.$best_chain.log" | awk '{print $2}')
  share=$(echo "scale=3; $cons / $d1in" | bc)
  extra=$(echo "scale=3; ($w2 - $w1) / $w1" | bc)
  # ... and its CPU time (user + system, all threads) before and after the end of Detector1.
  cpu_d1=$(grep -o "CPU detector1 [0-9.]* s" "$d/chain.$best_chain.log" | awk '{print $3}')
  cpu_cons=$(grep -o "consumers [0-9.]* s);" "$d/chain.$best_chain.log" | awk '{print $2}')
  cpu_share=$(echo "scale=3; $cpu_cons / $cpu_d1" | bc)
  tc="$d/time_cons.$best_chain.txt"
  cons_cpu=$(echo "$(grep "User time" "$tc" | awk '{print $NF}') + $(grep "System time" "$tc" | awk '{print $NF}')" | bc)
  printf "| %s | %s | %.1f | %s | %.1f | %s | %.2f | %s | %s | %s (%s / %s s) | %s, %s |\n" "$ty" "$N" "$w1" "$(rss "$d/time_d1.$best_d1.txt")" \
      "$w2" "$(rss "$d/time_chain.$best_chain.txt")" "$cons" "$share" "$extra" "$cpu_share" "$cpu_cons" "$cpu_d1" "$(rss "$tc")" "$cons_cpu"
done
echo
echo "machine load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
