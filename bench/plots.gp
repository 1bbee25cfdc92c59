# plots.gp: draws doc/img/*.png from build/plots/*.dat (make plots).
set terminal pngcairo size 800,480 font ",10" noenhanced
set grid ytics
set key top left

set output "doc/img/scan.png"
set title "Summing a float64 file (warm page cache)"
set xlabel "file size (MiB)"
set ylabel "GB/s (log scale)"
set logscale x 2
set logscale y
plot "build/plots/scan.dat" using 1:2 with linespoints lw 2 title "memobj.map():array():sum()", \
     "" using 1:3 with linespoints lw 2 title "C mmap loop", \
     "" using 1:4 with linespoints lw 2 title "io.read + string.unpack"
unset logscale x
unset logscale y

set output "doc/img/access.png"
set title "Reaching float64 array elements from Lua (ns per element, lower is better)"
set xlabel ""
set ylabel "ns per element"
set style fill solid 0.7
set boxwidth 0.6
set xtics rotate by -30
set key off
plot "build/plots/access.dat" using 1:3:xtic(2) with boxes

set output "doc/img/tx.png"
set title "Durable transactions: 8 random int64 updates each (higher is better)"
set ylabel "transactions per second"
set logscale y
plot "build/plots/tx.dat" using 1:3:xtic(2) with boxes
