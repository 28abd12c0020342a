"""One module per ``seizure`` sub-command (argument parsing only; work lives in the rooms)."""
