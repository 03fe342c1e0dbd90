#pragma once

/// \file
/// `cohort run --part K/N`: job `seq` belongs to part (seq - 1) mod N, `{#}`
/// stays the global sequence number, and each part keeps its own joblog,
/// which --resume refuses from another part.

#include "cohort/common/part.hpp"
#include "cohort/run/joblog.hpp"

#include <string>

namespace cohort::app::run {

/// --joblog's FILE for `part`: "%k" becomes K, "%n" becomes N and "%%" a
/// "%" (any other "%" stays), so that the parts of a job array write their
/// own logs: `--joblog jobs.%k.log` gives jobs.0.log, jobs.1.log, ...
///
///   joblog_of_part("log.%k-of-%n", {2, 8}) == "log.2-of-8"
std::string joblog_of_part(const std::string& file, const work_part& part);

/// Throws usage_error when the joblog `log` (read from `file`) holds a job
/// that is not of `part`: it is another part's log (or the whole run's),
/// and resuming from it would skip nothing of this part and mix two parts
/// in one file. The message names the job, its part and this part.
void check_joblog_part(const joblog_contents& log, const std::string& file, const work_part& part);

}  // namespace cohort::app::run
