#include "cohort/common/error_text.hpp"

#include <cohort/detail/errors.hpp>

namespace cohort::app {

std::string error_text(const std::exception_ptr& e) {
  return cohort::detail::describe_error(e);
}

}  // namespace cohort::app
