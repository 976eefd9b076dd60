#!/usr/bin/env bash
# Macro benchmark of `sloper detector1` (exact mode) on simulated SUBGRISM256-like exposures
# (10 groups x 256 x 2048, 4 outputs): wall time, peak RSS (/usr/bin/time -v), throughput, and the
# page-cache read floor (reading the raw file once with dd). Prints a markdown table.
#
# usage: benches/detector1.sh [NINTS ...]      (default: 10 70 200)
# env:   BENCH_DIR (default /tmp/sloper-bench), SLOPER (default target/release/sloper),
#        MAX_MEMORY (default 256MiB)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
cargo build --release --quiet
SLOPER="${SLOPER:-$HERE/target/release/sloper}"
DIR="${BENCH_DIR:-/tmp/sloper-bench}"
MEM="${MAX_MEMORY:-256MiB}"
NINTS=("$@"); [ ${#NINTS[@]} -eq 0 ] && NINTS=(10 70 200)
echo "| NINTS | raw MB | jump mode | wall s | peak RSS MiB | M pixel-reads/s | dd floor s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for n in "${NINTS[@]}"; do
  d="$DIR/n$n"
  u="$d/jw01234001001_01101_00001_nrcalong_uncal.fits"
  [ -f "$u" ] || "$SLOPER" simulate --nints "$n" --ngroups 10 --ny 256 --nx 2048 --seed "$n" --outdir "$d" > /dev/null
  mb=$(( $(stat -c %s "$u") / 1000000 ))
  dd if="$u" of=/dev/null bs=1M 2> /dev/null   # warm the page cache
  t0=$(date +%s.%N); dd if="$u" of=/dev/null bs=1M 2> /dev/null; t1=$(date +%s.%N)
  floor=$(echo "$t1 - $t0" | bc)
  /usr/bin/time -v -o "$d/time.txt" "$SLOPER" detector1 "$u" --refs "$d" --output_dir="$d/out" \
      --max-memory="$MEM" --no-progress 2> "$d/detector1.log" > /dev/null
  wall=$(grep "Elapsed (wall" "$d/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(( $(grep "Maximum resident" "$d/time.txt" | awk '{print $NF}') / 1024 ))
  mode=$(grep -o "jump mode [^)]*)" "$d/detector1.log" | head -1 | sed 's/jump mode Some(//; s/ {.*//; s/)$//')
  reads=$(( n * 10 * 256 * 2048 ))
  rate=$(echo "scale=1; $reads / $wall / 1000000" | bc)
  printf "| %s | %s | %s | %.2f | %s | %s | %.3f |\n" "$n" "$mb" "$mode" "$wall" "$rss" "$rate" "$floor"
done
