#!/usr/bin/env bash
# Runs `deepvox fit` locally or inside an allocation: jobs/fit.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" fit "$@"
