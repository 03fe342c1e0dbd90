// Shrinking a failing tree: remove statements and plan actions, or replace a
// statement by its body, while the tree still breaks the same invariant.

#include <string>

#include "contract.hpp"

namespace cohort::property {

namespace {

bool remove_nth(block& b, int& n) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (n == 0) {
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
    --n;
    if (remove_nth(b[i].body, n) || remove_nth(b[i].cleanup, n)) return true;
  }
  return false;
}

bool hoist_nth(block& b, int& n) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (n == 0) {
      if (b[i].body.empty() || b[i].kind == op::spawn) return false;
      block inner = std::move(b[i].body);
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(i));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(i), inner.begin(), inner.end());
      return true;
    }
    --n;
    if (hoist_nth(b[i].body, n) || hoist_nth(b[i].cleanup, n)) return true;
  }
  return false;
}

bool still_fails(const tree& t, const std::string& invariant) {
  if (!valid(t)) return false;
  for (const auto& v : run_tree(t).violations)
    if (invariant_of(v) == invariant) return true;
  return false;
}

}  // namespace

tree shrink(const tree& t, const std::string& invariant, int budget) {
  tree best = t;
  bool progress = true;
  while (progress && budget > 0) {
    progress = false;
    for (std::size_t i = 0; i < best.plan.size() && budget > 0; --budget) {
      tree c = best;
      c.plan.erase(c.plan.begin() + static_cast<std::ptrdiff_t>(i));
      if (still_fails(c, invariant)) {
        best = std::move(c);
        progress = true;
      } else {
        ++i;
      }
    }
    for (int k = 0; k < size(best) && budget > 0; --budget) {
      tree c = best;
      int n = k;
      if (!remove_nth(c.root, n)) break;
      finish(c);
      if (still_fails(c, invariant)) {
        best = std::move(c);
        progress = true;
        continue;
      }
      c = best;
      n = k;
      if (hoist_nth(c.root, n)) {
        finish(c);
        if (still_fails(c, invariant)) {
          best = std::move(c);
          progress = true;
          continue;
        }
      }
      ++k;
    }
  }
  return best;
}

}  // namespace cohort::property
