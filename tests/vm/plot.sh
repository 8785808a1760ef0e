#!/bin/bash
# plot.sh [-o OUT.png] [-t TITLE] RESULTDIR... - one PNG of the guest's
# write+sync latency over time for several scenario runs (e.g. a retry run
# and the control), with each run's outage window shaded and failed writes
# marked.  Reads from each RESULTDIR (written by run-guest.sh and lib.sh):
#   lat.dat     "t_ms lat_ms ok|err" per write+sync, t from the guest's SBSTART
#   events.txt  "outage_start S" / "outage_end S", S since SBSTART (host side)
#   result.txt  the verdict, summarised in the panel's title
#   title       what ran, in words (else `scenario`, the run's name)
# Default output: ./vm-latency.png.  Needs gnuplot (gnuplot-nox).
set -euo pipefail

out=vm-latency.png
title="guest write+sync latency through a storage outage"
while getopts o:t: opt; do
    case $opt in
        o) out=$OPTARG ;;
        t) title=$OPTARG ;;
        *) echo "usage: $0 [-o OUT.png] [-t TITLE] RESULTDIR..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-o OUT.png] [-t TITLE] RESULTDIR..." >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 77; }

# Strings go into gnuplot quoted: keep them free of quotes and backslashes.
clean() { tr -d "\"'\\\\" <<< "$1"; }
get() { sed -n "s/^$1=//p" "$2/result.txt" 2>/dev/null | tail -n1; }

colors=("#1f77b4" "#2ca02c" "#9467bd" "#8c564b" "#17becf" "#7f7f7f")
n=$#
tmax=1 ymax=0
for d in "$@"; do
    [ -s "$d/lat.dat" ] || { echo "plot: $d/lat.dat missing or empty" >&2; exit 1; }
    t=$(awk '{ e = ($1 + $2) / 1000; if (e > m) m = e } END { printf "%d", m + 1 }' "$d/lat.dat")
    [ "$t" -gt "$tmax" ] && tmax=$t
    y=$(awk '$2 > m { m = $2 } END { printf "%d", m }' "$d/lat.dat")
    [ "$y" -gt "$ymax" ] && ymax=$y
done
# Same scales in every panel, so the runs compare at a glance.
ymax=$(awk -v y="$ymax" 'BEGIN { m = 100; while (m < y * 2) m *= 10; print m }')

# One panel per run, stacked on a common time axis: overlaid runs hide each
# other's points.  Each write is a dot at its start plus a line as long as it
# took, so a write held through an outage shows as a bar across it.
gp="set terminal pngcairo size 1200,$((170 + 260 * n)) font 'sans,10'
set output '$(clean "$out")'
set termoption noenhanced
set multiplot layout $n,1 title '$(clean "$title")'
set logscale y
set yrange [4:$ymax]
set xrange [0:$tmax]
set grid ytics xtics
set ylabel 'write+sync latency, ms'
set key inside top right font 'sans,9' box opaque
"
i=0
for d in "$@"; do
    name=$(clean "$(cat "$d/title" 2>/dev/null || cat "$d/scenario" 2>/dev/null || basename "$d")")
    summary="writes=$(get writes "$d") failed=$(get write_errors "$d") max=$(get max_latency_ms "$d") ms, io_errors=$(get dmesg_io_errors "$d") journal_aborted=$(get journal_aborted "$d") checksum_bad=$(get checksum_bad "$d") probe=$(get probe "$d")"
    c=${colors[$((i % ${#colors[@]}))]}
    os=$(awk '$1 == "outage_start" { print $2 }' "$d/events.txt" 2>/dev/null | head -n1)
    oe=$(awk '$1 == "outage_end" { print $2 }' "$d/events.txt" 2>/dev/null | head -n1)
    gp+="unset object
set title \"$name\\n$(clean "$summary")\"
"
    [ $((i + 1)) = "$n" ] && gp+="set xlabel \"seconds since the guest's workload start (10 ms resolution; 0 ms drawn at 5)\"
"
    plot=""
    if [ -n "$os" ] && [ -n "$oe" ]; then
        # Shaded behind the points; a dummy plot puts it in the legend.
        gp+="set object 1 rect from $os, graph 0 to $oe, graph 1 behind fc rgb '#f4c2c2' fs solid 0.6 noborder
"
        plot+="NaN with boxes fs solid 0.6 noborder fc rgb '#f4c2c2' title 'outage $os-$oe s', "
    fi
    # 0 ms means "under the 10 ms resolution of the guest clock": drawn at 5 ms
    # so a log axis can show it.
    # shellcheck disable=SC2016 # gnuplot's $2, not the shell's
    lat='($2 < 5 ? 5 : $2)'
    plot+="'$d/lat.dat' using (\$1/1000):(strcol(3) eq 'ok' ? $lat : NaN):(\$2/1000):(0) with vectors nohead lc rgb '$c' notitle, "
    plot+="'$d/lat.dat' using (\$1/1000):(strcol(3) eq 'ok' ? $lat : NaN) with points pt 7 ps 0.5 lc rgb '$c' title 'write+sync ok (line: how long it took)', "
    plot+="'$d/lat.dat' using (\$1/1000):(strcol(3) eq 'err' ? $lat : NaN) with points pt 2 ps 1.2 lw 2 lc rgb '#d62728' title 'write+sync failed', "
    gp+="plot ${plot%, }
"
    i=$((i + 1))
done
gp+="unset multiplot
"
printf '%s' "$gp" > "${out%.png}.gp"
gnuplot "${out%.png}.gp"
echo "$out"
