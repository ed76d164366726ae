#!/usr/bin/env bash
# Runs `deepvox reconstruct` locally or inside an allocation: jobs/reconstruct.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" reconstruct "$@"
