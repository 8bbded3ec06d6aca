#!/bin/sh
# Redraws the pictures of docs/viz.md with tapegrad's own command-line tool (tapegrad-draw).
# Run from the repository root:  sh docs/img/viz-pictures.sh   (needs Graphviz `dot`)
set -e
draw() { "${PYTHON:-python}" -m tapegrad.viz.cli "$@"; }
out=docs/img
draw --model elman --steps 3 --out "$out/unrolled-elman-T3.svg"
draw --model lstm --steps 4 --out "$out/unrolled-lstm-T4.svg"
draw --model lstm --steps 4 --collapse step --out "$out/unrolled-lstm-T4-collapsed.svg"
draw --model elman --steps 20 --out "$out/unrolled-elman-T20.svg"
draw --model elman --steps 100 --hidden 8 --view rolled --out "$out/rolled-elman-T100.svg"
draw --model lstm --steps 100 --hidden 8 --forget-bias 1 --view rolled \
     --out "$out/rolled-lstm-T100-forget-bias.svg"
draw --model elman --steps 2 --view tape --out "$out/tape-elman-T2.svg"
