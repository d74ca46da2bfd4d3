#!/usr/bin/env bash
# The lociflow demo on bundled real data (PUM2 PAR-CLIP sites, data/rbp24).
# Each step prints its run folder as the last line of standard output; we keep it.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCIFLOW=.venv/bin/lociflow
OUT=demo_out
CONFIG=examples/pum2.yaml

echo "== preprocess: FASTA per class -> encoded, folded, split dataset"
DATASET=$("$LOCIFLOW" preprocess -c "$CONFIG" -o "$OUT" --name pum2_dataset --force | tail -n1)
echo "dataset: $DATASET"
column -t -s $'\t' "$DATASET/summary.tsv"

echo "== train: dataset -> model (best epoch kept, scored on the test split)"
MODEL=$("$LOCIFLOW" train -c "$CONFIG" --data "$DATASET" -o "$OUT" --name pum2_model --force | tail -n1)
echo "model: $MODEL"
.venv/bin/python - "$MODEL/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"test AUROC {m['auroc']['macro']:.3f}, AUPRC {m['auprc']['macro']:.3f}, "
      f"accuracy {m['accuracy']:.3f} (best epoch {m['best_epoch']} of {m['epochs_trained']})")
PY
