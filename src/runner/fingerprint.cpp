#include <cohort/runner/fingerprint.hpp>

#include <string_view>
#include <unordered_map>

namespace cohort {

std::vector<fingerprint_difference> fingerprint_differences(const fingerprint& recorded,
                                                            const fingerprint& given) {
  std::unordered_map<std::string_view, std::string_view> recorded_values;
  for (const auto& f : recorded) recorded_values.emplace(f.name, f.value);
  std::unordered_map<std::string_view, std::string_view> given_values;
  for (const auto& f : given) given_values.emplace(f.name, f.value);

  std::vector<fingerprint_difference> diffs;
  for (const auto& f : given) {
    const auto it = recorded_values.find(f.name);
    if (it == recorded_values.end()) {
      diffs.push_back({f.name, std::nullopt, f.value});
    } else if (it->second != f.value) {
      diffs.push_back({f.name, std::string(it->second), f.value});
    }
  }
  for (const auto& f : recorded) {
    if (!given_values.contains(f.name)) diffs.push_back({f.name, f.value, std::nullopt});
  }
  return diffs;
}

}  // namespace cohort
