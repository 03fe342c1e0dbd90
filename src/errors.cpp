#include <cohort/detail/errors.hpp>

namespace cohort::detail {

std::string describe_error(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace cohort::detail
