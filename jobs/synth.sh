#!/usr/bin/env bash
# Runs `deepvox synth` locally or inside an allocation: jobs/synth.sh CONFIG [options...] (see run_stage.sh).
exec "$(dirname "$0")/run_stage.sh" synth "$@"
