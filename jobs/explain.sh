#!/usr/bin/env bash
# Runs `deepvox explain` locally or inside an allocation: jobs/explain.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" explain "$@"
