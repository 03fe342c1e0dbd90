#pragma once
/// \file
/// Cohort: structured concurrency for C++20 with cancellation that is correct
/// by construction. This umbrella header includes the whole core.

#include <cohort/cancel_reason.hpp>
#include <cohort/cancel_scope.hpp>
#include <cohort/event.hpp>
#include <cohort/finally.hpp>
#include <cohort/operation.hpp>
#include <cohort/scheduler.hpp>
#include <cohort/semaphore.hpp>
#include <cohort/shield.hpp>
#include <cohort/sleep.hpp>
#include <cohort/sync_wait.hpp>
#include <cohort/task.hpp>
#include <cohort/task_group.hpp>
