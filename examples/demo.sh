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
print(f"test AUROC {m['auroc']['bound']:.3f}, AUPRC {m['auprc']['bound']:.3f} (bound), "
      f"accuracy {m['accuracy']:.3f} (best epoch {m['best_epoch']} of {m['epochs_trained']})")
PY

echo "== evaluate: the model on the left-out PUM2 test files (never seen in training or selection)"
EVALUATION=$("$LOCIFLOW" evaluate --model "$MODEL" \
    --class bound=data/rbp24/PARCLIP_PUM2.test.positives.fa.gz \
    --class unbound=data/rbp24/PARCLIP_PUM2.test.negatives.fa.gz \
    -o "$OUT" --name pum2_evaluate --force | tail -n1)
.venv/bin/python - "$EVALUATION/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"left-out test AUROC {m['auroc']['bound']:.3f}, AUPRC {m['auprc']['bound']:.3f} (bound), "
      f"accuracy {m['accuracy']:.3f} on {sum(m['n'].values())} loci "
      "(published on these files: GraphProt 0.954, DeepBind 0.964, ENNGene 0.972)")
PY
echo "evaluation report: $EVALUATION/report.html"

echo "== predict: per-class probabilities and attribution maps for the same test sequences"
PREDICTIONS=$("$LOCIFLOW" predict --model "$MODEL" \
    --input data/rbp24/PARCLIP_PUM2.test.positives.fa.gz \
    --input data/rbp24/PARCLIP_PUM2.test.negatives.fa.gz \
    --threshold bound=0.5 --attribute ig -o "$OUT" --name pum2_predict --force | tail -n1)
head -n 4 "$PREDICTIONS/predictions.tsv" | cut -f 1,9- | column -t -s $'\t'
echo "predictions: $PREDICTIONS/predictions.tsv"
echo "attribution maps: $PREDICTIONS/attributions.html"

echo "== interpret: where the model looks (attributions, mutagenesis, filters vs JASPAR, class optimization, GIA)"
# 400 test loci keep this to a few minutes on 2 cores; --methods all adds DeepSHAP and TF-MoDISco.
# UGUAAAUA is the PUM2 binding element: GIA inserts it into shuffled real loci and scans its position.
INTERPRETATION=$("$LOCIFLOW" interpret --model "$MODEL" --data "$DATASET" --split test \
    --methods saliency,ig,ism,filters,optimize,gia --max-loci 400 --motif UGUAAAUA \
    -o "$OUT" --name pum2_interpret --force | tail -n1)
column -t -s $'\t' "$INTERPRETATION/methods.tsv"
.venv/bin/python - "$INTERPRETATION/gia.tsv" <<'PY'
import sys
import pandas as pd
gia = pd.read_csv(sys.argv[1], sep="\t")
for _, row in gia.iterrows():
    print(f"GIA {row['motif']} -> {row['class']}: mean class-score change {row['effect']:+.2f} "
          f"(its shuffle {row['shuffled']}: {row['control']:+.2f})")
PY
echo "dashboard: $INTERPRETATION/index.html"
