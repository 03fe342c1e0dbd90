// Fuzzes the contract itself: the input's bytes are the decisions of the
// generative contract tester's grammar (tests/property/contract.hpp), so
// coverage guides libFuzzer towards task trees that reach new paths of the
// core (cancel propagation, cleanup, groups, semaphores). Every tree is run
// on virtual time and must keep every invariant the tester checks; a
// violation prints the tree and aborts.
//
// Input: any bytes (one or two per decision; a short input is a small tree).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "contract.hpp"

#ifndef COHORT_PROPERTY_AVOID_DEFAULT
#define COHORT_PROPERTY_AVOID_DEFAULT "1,5,7,8"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace prop = cohort::property;
  static const prop::options opts = [] {
    prop::options o;
    const char* avoid = std::getenv("COHORT_PROPERTY_AVOID");
    o.avoid = prop::avoid_set::parse(avoid != nullptr ? avoid : COHORT_PROPERTY_AVOID_DEFAULT);
    o.deep_chain = 64;  // deep enough for the unwinding paths, cheap per input
    return o;
  }();
  prop::byte_chooser choices(data, size);
  const prop::tree t = prop::generate(choices, opts);
  const prop::outcome o = prop::run_tree(t);
  if (!o.violations.empty()) {
    for (const auto& v : o.violations) std::cerr << "contract_fuzz: " << v << "\n";
    std::cerr << "result: " << o.result << "\n" << prop::dump(t) << std::flush;
    std::abort();
  }
  return 0;
}
