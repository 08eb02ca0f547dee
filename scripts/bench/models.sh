#!/usr/bin/env bash
# Times every model fit in scikit-learn/statsmodels/scipy and in segstream, in one run, and prints
# the ratios. Needs Debian's python3-sklearn python3-statsmodels python3-scipy python3-pandas and
# the data sets in ${SEGSTREAM_DATA:-../shared/data}.
set -euo pipefail
cd "$(dirname "$0")/../.."
for s in segmentation purchase clv_conversion; do
  echo "== $s"
  /usr/bin/python3 "scripts/bench/$s.py" "$@"
done
