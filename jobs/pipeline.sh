#!/usr/bin/env bash
# Runs `deepvox pipeline` locally or inside an allocation: jobs/pipeline.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" pipeline "$@"
