#!/usr/bin/env bash
# Runs `deepvox import` locally or inside an allocation: jobs/import.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" import "$@"
