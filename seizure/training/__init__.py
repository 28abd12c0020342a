"""Training internals: experiment config, crop sampler, dev evaluation, the loop."""
