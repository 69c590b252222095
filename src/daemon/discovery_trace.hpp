// The optional trace the discovery steps (daemon/policy_discovery, daemon/dane_discovery)
// write for mtastsctl: one line per answer seen and per conclusion.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mtastsd::daemon {

// Appends `line` to the trace, if there is one.
inline void add_trace_line(std::vector<std::string>* trace, std::string line) {
  if (trace) trace->push_back(std::move(line));
}

}  // namespace mtastsd::daemon
