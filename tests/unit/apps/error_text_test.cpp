#include "cohort/common/error_text.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using cohort::app::error_text;

TEST(ErrorText, WhatOfAStdExceptionElseAPlaceholder) {
  EXPECT_EQ(error_text(std::make_exception_ptr(std::runtime_error("HTTP status 500"))),
            "HTTP status 500");
  EXPECT_EQ(error_text(std::make_exception_ptr(42)), "unknown exception");
  EXPECT_EQ(error_text(nullptr), "");
}

}  // namespace
