#pragma once

/// \file
/// The text of an error as the tools print it: one way for both (the
/// runner's failures carry exception_ptrs; the library turns those into text
/// the same way for its own messages).

#include <exception>
#include <string>

namespace cohort::app {

/// The `what()` of the error `e` holds; "unknown exception" for an exception
/// that is not a std::exception; "" for a null `e`.
///
///   error_text(std::make_exception_ptr(std::runtime_error("x"))) == "x"
[[nodiscard]] std::string error_text(const std::exception_ptr& e);

}  // namespace cohort::app
