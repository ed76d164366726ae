#!/usr/bin/env bash
# Runs `deepvox maximize` locally or inside an allocation: jobs/maximize.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" maximize "$@"
