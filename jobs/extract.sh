#!/usr/bin/env bash
# Runs `deepvox extract` locally or inside an allocation: jobs/extract.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" extract "$@"
