#pragma once
// One way to turn an exception into text for messages and journals.

#include <exception>
#include <string>

namespace cohort::detail {

/// The `what()` of a std::exception, "unknown exception" otherwise, "" for null.
std::string describe_error(const std::exception_ptr& e);

}  // namespace cohort::detail
