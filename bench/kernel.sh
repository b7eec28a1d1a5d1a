#!/usr/bin/env bash
# Kernel benchmark: 100,000 rooms, one simulated week at 60 s steps; JSON lines, summary last.
cd "$(dirname "$0")/.." && exec node bin/hearth.mjs bench kernel --json "$@"
