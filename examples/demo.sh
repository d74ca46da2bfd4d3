#!/usr/bin/env bash
# The lociflow demo on bundled real data (PUM2 PAR-CLIP sites, data/rbp24).
#   bash examples/demo.sh        quick: examples/demo.yaml (6,000 loci, sequence only, 6 epochs), a few minutes
#   bash examples/demo.sh full   full size: examples/pum2.yaml (17,343 loci, RNA structure, 20 epochs)
# Each step prints its run folder as the last line of standard output; we keep it. Every stage
# reads its options from the same config file. LOCIFLOW and PYTHON may point at another install.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCIFLOW=${LOCIFLOW:-.venv/bin/lociflow}
PYTHON=${PYTHON:-.venv/bin/python}
if [ "${1:-quick}" = full ]; then
    CONFIG=examples/pum2.yaml OUT=demo_out_full
else
    CONFIG=examples/demo.yaml OUT=demo_out
fi
SECONDS=0

echo "== preprocess ($CONFIG): FASTA per class -> encoded, split dataset"
DATASET=$("$LOCIFLOW" preprocess -c "$CONFIG" -o "$OUT" --name pum2_dataset --force | tail -n1)
echo "dataset: $DATASET"
column -t -s $'\t' "$DATASET/summary.tsv"

echo "== train: dataset -> model (best epoch kept, scored on the test split)"
MODEL=$("$LOCIFLOW" train -c "$CONFIG" --data "$DATASET" -o "$OUT" --name pum2_model --force | tail -n1)
echo "model: $MODEL"
"$PYTHON" - "$MODEL/metrics.json" <<'PY'
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
"$PYTHON" - "$EVALUATION/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"left-out test AUROC {m['auroc']['bound']:.3f}, AUPRC {m['auprc']['bound']:.3f} (bound), "
      f"accuracy {m['accuracy']:.3f} on {sum(m['n'].values())} loci "
      "(published on these files: GraphProt 0.954, DeepBind 0.964, ENNGene 0.972)")
PY
echo "evaluation report: $EVALUATION/report.html"

echo "== predict: per-class probabilities and attribution maps for the same test sequences"
PREDICTIONS=$("$LOCIFLOW" predict -c "$CONFIG" --model "$MODEL" \
    --input data/rbp24/PARCLIP_PUM2.test.positives.fa.gz \
    --input data/rbp24/PARCLIP_PUM2.test.negatives.fa.gz \
    -o "$OUT" --name pum2_predict --force | tail -n1)
head -n 4 "$PREDICTIONS/predictions.tsv" | cut -f 1,9- | column -t -s $'\t'
echo "predictions: $PREDICTIONS/predictions.tsv"
echo "attribution maps: $PREDICTIONS/attributions.html"

echo "== interpret: where the model looks (attributions, mutagenesis, filters vs JASPAR, class optimization, GIA)"
INTERPRETATION=$("$LOCIFLOW" interpret -c "$CONFIG" --model "$MODEL" --data "$DATASET" \
    -o "$OUT" --name pum2_interpret --force | tail -n1)
column -t -s $'\t' "$INTERPRETATION/methods.tsv"
"$PYTHON" - "$INTERPRETATION" <<'PY'
import sys
from pathlib import Path
import pandas as pd
folder = Path(sys.argv[1])
gia = pd.read_csv(folder / "gia.tsv", sep="\t")
for _, row in gia.iterrows():
    print(f"GIA {row['motif']} -> {row['class']}: mean class-score change {row['effect']:+.2f} "
          f"(its shuffle {row['shuffled']}: {row['control']:+.2f})")
best = pd.read_csv(folder / "optimize.tsv", sep="\t").groupby("class").first()
for cls, row in best.iterrows():  # the PUM2 element starts UGUA
    print(f"class-optimized sequence for {cls}: UGUA {row['sequence'].count('UGUA')} times in "
          f"{len(row['sequence'])} nt")
PY
echo "dashboard: $INTERPRETATION/index.html"
echo "== the whole demo took $((SECONDS / 60)) min $((SECONDS % 60)) s"
