// The workload factories, one per file; models/registry.cpp lists them by name.
#pragma once

#include <fmt/format.h>

#include "models/model.h"

namespace parbench::models {

std::unique_ptr<Model> make_violence(Backend& backend, const ModelConfig& config);
std::unique_ptr<Model> make_shoplifting(Backend& backend, const ModelConfig& config);

}  // namespace parbench::models
