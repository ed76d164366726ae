#!/usr/bin/env bash
# Runs `deepvox decode` locally or inside an allocation: jobs/decode.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" decode "$@"
