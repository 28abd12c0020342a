#!/usr/bin/env bash
# Preprocess a local copy of the TUH EEG Seizure Corpus (TUSZ) into a feature store.
#
# Environment (all optional):
#   TUSZ_ROOT   the corpus folder: the one holding edf/ (v2.0.x: edf/{train,dev,eval};
#               v1.5: edf/{train,dev_test}), the edf/ folder itself, or one split.
#               Default: data/tusz/v2.0.3
#   STORE       the feature-store folder to create or resume.
#               Default: data/store/<config name, or "default">
#   CONFIG      an experiment TOML whose [recipe] table is used (default: the built-in recipe)
#   JOBS        worker processes (default: the number of CPU cores)
#   SPLITS      comma-separated subset of train,dev,eval (default: all)
#   SEIZURE     the seizure command (default: .venv/bin/seizure if present, else seizure)
# Extra arguments are passed on, e.g. --set recipe.feature=raw
#
# Re-running resumes: finished recordings are skipped, failed ones retried. Exit status 1
# means some files failed (they are listed in STORE/manifest.csv with their reason).
# See data/README.md for how to obtain TUSZ.
set -euo pipefail
cd "$(dirname "$0")/.."

TUSZ_ROOT="${TUSZ_ROOT:-data/tusz/v2.0.3}"
name="default"
if [[ -n "${CONFIG:-}" ]]; then name="$(basename "${CONFIG%.toml}")"; fi
STORE="${STORE:-data/store/${name}}"
JOBS="${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}"
if [[ -z "${SEIZURE:-}" ]]; then
  if [[ -x .venv/bin/seizure ]]; then SEIZURE=.venv/bin/seizure; else SEIZURE=seizure; fi
fi

if [[ ! -d "$TUSZ_ROOT" ]]; then
  echo "error: TUSZ not found at $TUSZ_ROOT (set TUSZ_ROOT; see data/README.md)" >&2
  exit 2
fi

args=(preprocess "$TUSZ_ROOT" "$STORE" --jobs "$JOBS")
if [[ -n "${CONFIG:-}" ]]; then args+=(--config "$CONFIG"); fi
if [[ -n "${SPLITS:-}" ]]; then args+=(--split "$SPLITS"); fi

echo "preprocessing $TUSZ_ROOT -> $STORE with $JOBS job(s)" >&2
exec "$SEIZURE" "${args[@]}" "$@"
