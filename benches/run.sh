#!/usr/bin/env bash
# Macro benchmark: sloper detector1 (exact and online modes) against the official
# calwebb_detector1 on the same simulated exposures; writes benches/results.csv,
# benches/results.png and benches/RESULTS.md.
#
#   benches/run.sh                        # everything (sizes below; ~1 h on the 2-core machine)
#   OFFICIAL=0 benches/run.sh             # re-measure sloper only; official rows are kept
#   BENCH_NINTS="10 50" FULLFRAME=0 benches/run.sh
#   REPORT_ONLY=1 benches/run.sh          # redraw RESULTS.md + PNG from the CSVs
#   KERNELS=1 benches/run.sh              # also the criterion kernels (benches/kernels.csv)
#
# Exposures (`sloper simulate`, seed = NINTS): NINTS in BENCH_NINTS x 10 groups x 256 x 2048
# (SUBGRISM256 size, 4 outputs; NINTS >= 100 puts jump in sigma-clip mode), plus a full frame,
# 2 x 5 x 2048 x 2048. For each: the page-cache floor (a warm `dd` of the raw file), then
# `sloper detector1` in each of MODES and the official pipeline, each under /usr/bin/time -v
# after a warm `dd` (wall, user+sys CPU, peak RSS), with the 1-minute load average before and
# after. The raw file and the products are deleted after each exposure unless KEEP=1.
#
# Rows are upserted into the CSV by (pipeline, mode, exposure): a re-run replaces only what it
# measures. The official pipeline needs ~25x the raw file in RAM: it runs only where that
# estimate is <= OFFICIAL_MAX_GB and below MemAvailable - 2 GB; otherwise a "not run" row
# records the estimate (never replacing a measured row).
#
# env:
#   BENCH_NINTS      sizes of the 10 x 256 x 2048 series (default "10 50 70 200 1000")
#   FULLFRAME        1 (default) also the 2 x 5 x 2048 x 2048 exposure; 0 skips it
#   MODES            sloper modes (default "exact online")
#   OFFICIAL         auto (default: run when the venv and scripts exist) | 1 (must run) | 0 (never;
#                    the official rows of the CSV are kept)
#   OFFICIAL_NINTS   the sizes the official pipeline may run (default: all that fit)
#   OFFICIAL_MAX_GB  16 (estimated peak RSS limit)
#   ORACLE_VENV      /work/oracle/venv (or ../oracle/venv); ORACLE_DIR ../shared/oracle
#   CRDS_PATH_OFFLINE  /work/oracle/crds_cache (or ../oracle/crds_cache)
#   BUILD            tree (default: build this work tree; the commit is marked -dirty when
#                    src/, frames/, stream/ or Cargo.* differ from HEAD) | head (build a clean
#                    export of HEAD in BENCH_DIR/build, own target dir)
#   SLOPER           use this binary instead of building (commit from BENCH_COMMIT)
#   SLOPER_ARGS      extra detector1 arguments for every sloper run (e.g. --max-memory=256MiB)
#   BENCH_DIR        scratch (default /tmp/sloper-bench-run); KEEP=1 keeps exposures
#   BENCH_CSV, BENCH_KERNELS_CSV, BENCH_MD, BENCH_PNG   outputs (default benches/results.csv,
#                    benches/kernels.csv, benches/RESULTS.md, benches/results.png)
set -euo pipefail
export LC_ALL=C
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_NINTS="${BENCH_NINTS:-10 50 70 200 1000}"
FULLFRAME="${FULLFRAME:-1}"
MODES="${MODES:-exact online}"
OFFICIAL="${OFFICIAL:-auto}"
OFFICIAL_MAX_GB="${OFFICIAL_MAX_GB:-16}"
OFFICIAL_RSS_FACTOR="${OFFICIAL_RSS_FACTOR:-25}"
ORACLE_DIR="${ORACLE_DIR:-$ROOT/../shared/oracle}"
if [ -z "${ORACLE_VENV:-}" ]; then
  for v in /work/oracle/venv "$ROOT/../oracle/venv" "$ORACLE_DIR/.venv"; do
    [ -x "$v/bin/strun" ] && { ORACLE_VENV="$v"; break; }
  done
fi
export ORACLE_VENV="${ORACLE_VENV:-/work/oracle/venv}"
if [ -z "${CRDS_PATH_OFFLINE:-}" ]; then
  for c in /work/oracle/crds_cache "$ROOT/../oracle/crds_cache"; do
    [ -d "$c" ] && { CRDS_PATH_OFFLINE="$c"; break; }
  done
fi
[ -n "${CRDS_PATH_OFFLINE:-}" ] && export CRDS_PATH_OFFLINE
DIR="${BENCH_DIR:-/tmp/sloper-bench-run}"
CSV="${BENCH_CSV:-$ROOT/benches/results.csv}"
KCSV="${BENCH_KERNELS_CSV:-$ROOT/benches/kernels.csv}"
MD="${BENCH_MD:-$ROOT/benches/RESULTS.md}"
PNG="${BENCH_PNG:-$ROOT/benches/results.png}"
NOTES="${BENCH_NOTES:-$ROOT/benches/notes.md}"   # hand-written notes, copied into RESULTS.md
KEEP="${KEEP:-0}"
read -r -a EXTRA <<< "${SLOPER_ARGS:-}"
HEADER="key,shape,nints,ngroups,ny,nx,pipeline,mode,jump_mode,raw_bytes,pixel_reads,wall_s,cpu_s,peak_rss_mib,est_rss_mib,floor_s,load_start,load_end,status,date,commit,machine"
B=jw01234001001_01101_00001_nrcalong
mkdir -p "$DIR"

report() {
  cargo build --release --quiet --example bench_plot
  local k=()
  [ -f "$KCSV" ] && k=(--kernels "$KCSV")
  [ -f "$NOTES" ] && k+=(--notes "$NOTES")
  "$ROOT/target/release/examples/bench_plot" report --csv "$CSV" "${k[@]}" --md "$MD" --png "$PNG" \
      --generated "report written $(date -u '+%Y-%m-%d %H:%M UTC')"
}

if [ "${REPORT_ONLY:-0}" = 1 ]; then report; exit 0; fi

# --- the sloper binary and the commit it was built from -------------------------------------
if [ -n "${SLOPER:-}" ]; then
  COMMIT="${BENCH_COMMIT:-unknown}"
elif [ "${BUILD:-tree}" = head ]; then
  COMMIT="$(git rev-parse --short=10 HEAD)"
  src="$DIR/build/src"
  rm -rf "$src"; mkdir -p "$src"
  git archive HEAD | tar -x -C "$src"
  echo "building sloper at $COMMIT in $src (own target dir) ..." >&2
  CARGO_TARGET_DIR="$DIR/build/target" cargo build --release --quiet --locked --bin sloper \
      --manifest-path "$src/Cargo.toml"
  SLOPER="$DIR/build/target/release/sloper"
else
  cargo build --release --quiet --bin sloper
  SLOPER="$ROOT/target/release/sloper"
  COMMIT="$(git rev-parse --short=10 HEAD)"
  git diff --quiet HEAD -- src frames stream Cargo.toml Cargo.lock || COMMIT="$COMMIT-dirty"
fi

MACHINE="$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/,/;/g'); $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
load1() { cut -d' ' -f1 /proc/loadavg; }
mem_avail_gb() { awk '/MemAvailable/ {printf "%.1f", $2/1048576}' /proc/meminfo; }
# /usr/bin/time -v fields (empty when the file is missing)
secs() { [ -f "$1" ] && awk '/Elapsed \(wall/ {n = split($NF, t, ":"); s = (n == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2]; printf "%.2f", s}' "$1" || true; }
cpu() { [ -f "$1" ] && awk '/User time|System time/ {s += $NF} END {printf "%.2f", s}' "$1" || true; }
rss() { [ -f "$1" ] && awk '/Maximum resident/ {printf "%.0f", $NF/1024}' "$1" || true; }
ddsecs() { dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ {for (i=1;i<=NF;i++) if ($i ~ /^s,?$/) print $(i-1)}'; }

[ -f "$CSV" ] || echo "$HEADER" > "$CSV"
[ "$(head -1 "$CSV")" = "$HEADER" ] || { echo "$CSV: unexpected header (expected: $HEADER)" >&2; exit 1; }

# upsert KEY ROW: replace the row with this key (or append)
upsert() {
  local tmp="$CSV.tmp.$$"
  awk -F, -v k="$1" 'NR == 1 || $1 != k' "$CSV" > "$tmp"
  echo "$2" >> "$tmp"
  mv "$tmp" "$CSV"
}
# has_ok KEY: the CSV holds a measured (status ok) row for KEY
has_ok() { awk -F, -v k="$1" '$1 == k && $19 == "ok" {f = 1} END {exit !f}' "$CSV"; }

official_ready() {
  [ -x "$ORACLE_VENV/bin/strun" ] && [ -x "$ORACLE_DIR/run_detector1.sh" ] && [ -n "${CRDS_PATH_OFFLINE:-}" ]
}
case "$OFFICIAL" in
  0) RUN_OFFICIAL=0 ;;
  1) official_ready || { echo "OFFICIAL=1 but no official pipeline ($ORACLE_VENV/bin/strun, $ORACLE_DIR/run_detector1.sh, CRDS_PATH_OFFLINE)" >&2; exit 1; }
     RUN_OFFICIAL=1 ;;
  *) if official_ready; then RUN_OFFICIAL=1; else RUN_OFFICIAL=0; echo "official pipeline not found: sloper rows only" >&2; fi ;;
esac
official_allowed() {
  [ -z "${OFFICIAL_NINTS:-}" ] && return 0
  local n; for n in $OFFICIAL_NINTS; do [ "$n" = "$1" ] && return 0; done; return 1
}

echo "machine: $MACHINE; commit $COMMIT; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
df -h "$DIR" | tail -1 >&2

CASES=()
for n in $BENCH_NINTS; do CASES+=("$n 10 256 2048"); done
[ "$FULLFRAME" = 1 ] && CASES+=("2 5 2048 2048")

for c in "${CASES[@]}"; do
  read -r nints ngroups ny nx <<< "$c"
  shape="${nints}x${ngroups}x${ny}x${nx}"
  d="$DIR/$shape"
  u="$d/${B}_uncal.fits"
  reads=$(( nints * ngroups * ny * nx ))
  need_gb=$(( reads * 2 * 2 / 1000000000 + 1 ))   # raw file + products, roughly
  if [ ! -f "$u" ]; then
    avail=$(df -BG --output=avail "$DIR" | tail -1 | tr -dc 0-9)
    if [ "$avail" -lt $(( need_gb + 5 )) ]; then
      echo "== $shape: skipped, $avail GB free on $DIR and ~$need_gb GB needed" >&2; continue
    fi
    echo "== $shape: simulating ..." >&2
    rm -rf "$d"
    "$SLOPER" simulate --nints "$nints" --ngroups "$ngroups" --ny "$ny" --nx "$nx" --seed "$nints" \
        --outdir "$d" > "$d.simulate.log" 2>&1 || { cat "$d.simulate.log" >&2; exit 1; }
  fi
  raw=$(stat -c %s "$u")
  ddsecs "$u" > /dev/null   # warm
  floor=$(ddsecs "$u")
  echo "== $shape: raw $(( raw / 1000000 )) MB, page-cache read ${floor} s" >&2
  jump_mode="-"

  for mode in $MODES; do
    out="$d/out-$mode"; rm -rf "$out"
    ddsecs "$u" > /dev/null
    l0=$(load1)
    rc=0
    /usr/bin/time -v -o "$d/time-$mode.txt" "$SLOPER" detector1 "$u" --refs "$d" --output_dir="$out" \
        --mode "$mode" --no-progress "${EXTRA[@]}" > "$d/sloper-$mode.out" 2> "$d/sloper-$mode.log" || rc=$?
    l1=$(load1)
    jm=$(grep -o "jump mode [^)]*)" "$d/sloper-$mode.log" | head -1 | sed 's/jump mode Some(//; s/ {.*//; s/)$//' || true)
    [ -n "$jm" ] && jump_mode="$jm"
    status=ok; [ $rc = 0 ] || { status="failed (exit $rc)"; tail -5 "$d/sloper-$mode.log" >&2; }
    w=$(secs "$d/time-$mode.txt"); cs=$(cpu "$d/time-$mode.txt"); m=$(rss "$d/time-$mode.txt")
    echo "   sloper $mode: $status, wall $w s, CPU $cs s, peak RSS $m MiB, load $l0 -> $l1" >&2
    upsert "sloper/$mode/$shape" "sloper/$mode/$shape,$shape,$nints,$ngroups,$ny,$nx,sloper,$mode,JM,$raw,$reads,$w,$cs,$m,,$floor,$l0,$l1,$status,$(date -u +%F),$COMMIT,$MACHINE"
    rm -rf "$out"
  done
  # The jump mode is a property of the exposure: the exact run's log names it.
  if [ "$jump_mode" = "-" ]; then
    if [ "$nints" -ge 100 ]; then jump_mode=SigmaClip; else jump_mode=Iterative; fi
  fi
  sed -i "s/^\([^,]*,$shape,.*\),JM,/\1,$jump_mode,/" "$CSV"

  if [ "$RUN_OFFICIAL" = 1 ]; then
    key="official/default/$shape"
    est_mib=$(( raw * OFFICIAL_RSS_FACTOR / 1048576 ))
    est_gb=$(awk -v m="$est_mib" 'BEGIN {printf "%.1f", m/1024}')
    avail=$(mem_avail_gb)
    why=""
    if awk -v e="$est_gb" -v l="$OFFICIAL_MAX_GB" 'BEGIN {exit !(e > l)}'; then
      why="not run: needs ~$est_gb GB (> $OFFICIAL_MAX_GB GB)"
    elif ! official_allowed "$nints"; then why="not run (OFFICIAL_NINTS)"
    elif awk -v e="$est_gb" -v a="$avail" 'BEGIN {exit !(e > a - 2)}'; then
      why="not run: needs ~$est_gb GB; $avail GB available"
    fi
    if [ -n "$why" ]; then
      echo "   official: $why" >&2
      if ! has_ok "$key" && [ "$why" != "not run (OFFICIAL_NINTS)" ]; then
        upsert "$key" "$key,$shape,$nints,$ngroups,$ny,$nx,official,default,$jump_mode,$raw,$reads,,,,$est_mib,$floor,-,-,$why,$(date -u +%F),jwst 3.0.0,$MACHINE"
      fi
    else
      out="$d/out-official"; rm -rf "$out"
      ddsecs "$u" > /dev/null
      echo "   official: running (estimated ~$est_gb GB) ..." >&2
      l0=$(load1)
      rc=0
      ORACLE_TIME=1 ORACLE_SAVE_RAMP=0 "$ORACLE_DIR/run_detector1.sh" "$u" "$d" "$out" > "$d/official.out" 2>&1 || rc=$?
      l1=$(load1)
      t="$out/${B}_time_v.txt"
      status=ok; [ $rc = 0 ] || { status="failed (exit $rc)"; tail -5 "$d/official.out" >&2; }
      w=$(secs "$t"); cs=$(cpu "$t"); m=$(rss "$t")
      echo "   official: $status, wall $w s, CPU $cs s, peak RSS $m MiB, load $l0 -> $l1" >&2
      if [ "$status" = ok ] || ! has_ok "$key"; then
        upsert "$key" "$key,$shape,$nints,$ngroups,$ny,$nx,official,default,$jump_mode,$raw,$reads,$w,$cs,$m,$est_mib,$floor,$l0,$l1,$status,$(date -u +%F),jwst 3.0.0,$MACHINE"
      fi
      [ "$KEEP" = 1 ] || rm -rf "$out"
    fi
  fi
  [ "$KEEP" = 1 ] || rm -rf "$d" "$d.simulate.log"
done

if [ "${KERNELS:-0}" = 1 ]; then
  l0=$(load1)
  cargo bench --bench kernels >&2
  cargo build --release --quiet --example bench_plot
  "$ROOT/target/release/examples/bench_plot" kernels --criterion "$ROOT/target/criterion" --out "$KCSV" \
      --date "$(date -u +%F)" --commit "$COMMIT" --load "$l0"
fi
report
