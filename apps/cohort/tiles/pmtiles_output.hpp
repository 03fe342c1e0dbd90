#pragma once

/// \file
/// `cohort tiles ... -o area.pmtiles`: the download goes to a staging
/// MBTiles store next to the archive (`area.pmtiles.staging.mbtiles`), which
/// resumes like any output; once the download has run to its end the
/// archive is built from it (tile_sink: `area.pmtiles.tmp`, renamed into
/// place) and the staging store removed, unless tiles failed (they are then
/// tried again by the next run, which rebuilds the archive). So a SIGINT or
/// a SIGKILL at any moment leaves no archive (or the previous one) or a
/// complete one, and a run of the same command after a complete build does
/// nothing.

#include <filesystem>
#include <optional>

#include <cohort/runner/fingerprint.hpp>

#include "cohort/tiles/tiles_cli.hpp"

namespace cohort::app::tiles {

/// The staging store of an archive: "OUT.staging.mbtiles".
std::filesystem::path pmtiles_staging_path(const std::filesystem::path& archive);

/// Before a download into the archive `o.output` (whose fingerprint is
/// `fp`): nullopt to go on (download into the staging store), or the exit
/// status to end with at once: 0 when there is no staging store and the
/// archive was made by this same download (said on stderr unless --quiet),
/// 2 when the archive was made by another (or is not one) without --force.
std::optional<int> check_existing_archive(const tiles_options& o, const cohort::fingerprint& fp);

/// After a download into the staging store that was neither interrupted nor
/// stopped and ended with `status`: builds the archive (with a progress bar
/// unless --quiet), removes the staging store when no tile failed, and
/// returns the status to end with: `status`, 1 when the build failed, or
/// 128 + the signal that interrupted the build (`ended_by` set).
int build_archive(const tiles_options& o, int status, bool tiles_failed, int& ended_by);

}  // namespace cohort::app::tiles
