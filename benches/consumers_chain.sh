#!/usr/bin/env bash
# Benchmark of the Stage 2/3 consumers chained after Detector1 on a simulated 200-integration
# SUBGRISM256-size exposure (10 groups x 256 x 2048): `sloper detector1` alone versus
# `sloper run --pipeline detector1,image2,tso3` (image2 flat_field + photom -> _cal/_calints,
# tso3 outlier window -> _crfints, then photometry (imaging TSO) or white light (grism TSO)),
# each under /usr/bin/time -v. Prints a markdown table: wall time, peak RSS, and the consumers'
# share of the chain's time.
#
# usage: benches/consumers_chain.sh [NRC_TSIMAGE|NRC_TSGRISM ...]   (default: both)
# env:   BENCH_DIR (default /tmp/sloper-bench-consumers), NINTS (default 200),
#        SLOPER (default target/release/sloper), ORACLE_VENV (for make_stage2_refs.py: the
#        image2 references), ORACLE_DIR (default ../shared/oracle)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
cargo build --release --quiet
SLOPER="${SLOPER:-$HERE/target/release/sloper}"
DIR="${BENCH_DIR:-/tmp/sloper-bench-consumers}"
N="${NINTS:-200}"
ORACLE="${ORACLE_DIR:-$HERE/../shared/oracle}"
PY="${ORACLE_VENV:-/work/oracle/venv}/bin/python"
TYPES=("$@"); [ ${#TYPES[@]} -eq 0 ] && TYPES=(NRC_TSIMAGE NRC_TSGRISM)
B=jw01234001001_01101_00001_nrcalong
secs() { grep "Elapsed (wall" "$1" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'; }
rss() { echo $(( $(grep "Maximum resident" "$1" | awk '{print $NF}') / 1024 )); }
echo "| EXP_TYPE | NINTS | detector1 s | detector1 RSS MiB | chain s | chain RSS MiB | consumers s | consumers / detector1 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for ty in "${TYPES[@]}"; do
  d="$DIR/$ty-n$N"
  u="$d/${B}_uncal.fits"
  if [ ! -f "$u" ]; then
    "$SLOPER" simulate --exp-type "$ty" --nints "$N" --ngroups 10 --ny 256 --nx 2048 --seed 7 --outdir "$d" > /dev/null
  fi
  [ -f "$d/ref_flat.fits" ] || "$PY" "$ORACLE/make_stage2_refs.py" "$u" --outdir "$d" > /dev/null
  dd if="$u" of=/dev/null bs=1M 2> /dev/null   # warm the page cache for both runs alike
  rm -rf "$d/d1" "$d/chain"
  /usr/bin/time -v -o "$d/time_d1.txt" "$SLOPER" detector1 "$u" --refs "$d" --output_dir="$d/d1" \
      --no-progress > /dev/null 2> "$d/d1.log"
  /usr/bin/time -v -o "$d/time_chain.txt" "$SLOPER" run "$u" --pipeline detector1,image2,tso3 \
      --refs "$d" --output_dir="$d/chain" --no-progress > "$d/chain.out" 2> "$d/chain.log"
  w1=$(secs "$d/time_d1.txt"); w2=$(secs "$d/time_chain.txt")
  # The chain prints its own split (detector1 / consumers) on its last line.
  cons=$(grep -o "consumers [0-9.]* s" "$d/chain.log" | awk '{print $2}')
  d1in=$(grep -o "detector1 [0-9.]* s," "$d/chain.log" | awk '{print $2}')
  share=$(echo "scale=3; $cons / $d1in" | bc)
  printf "| %s | %s | %.1f | %s | %.1f | %s | %.2f | %s |\n" "$ty" "$N" "$w1" "$(rss "$d/time_d1.txt")" \
      "$w2" "$(rss "$d/time_chain.txt")" "$cons" "$share"
done
