// The one list of every config key, its kind, default and meaning. Each stage keeps its keys in
// schema/<stage>.inc so the list stays in one place without one file growing without bound.
#include "core/config.h"

namespace deepvox {

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = {
#include "core/schema/common.inc"
#include "core/schema/nets.inc"
#include "core/schema/import.inc"
#include "core/schema/extract.inc"
#include "core/schema/fit.inc"
#include "core/schema/synth.inc"
#include "core/schema/decode.inc"
#include "core/schema/maximize.inc"
#include "core/schema/reconstruct.inc"
#include "core/schema/explain.inc"
  };
  return schema;
}

}  // namespace deepvox
