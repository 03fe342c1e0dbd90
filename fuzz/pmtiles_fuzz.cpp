// libFuzzer target: the PMTiles v3 decoders (pmtiles_format.hpp).
//
// Input: one byte choosing the decoder, then the bytes to decode: 0 the
// header, 1 a raw directory, 2 a gzip directory, 3 gzip data. Decoding may
// fail with pmtiles_error, one line (that is fine); any other exception, a
// crash or a broken invariant is a bug. A directory that decodes must
// encode back to the same entries, its tile IDs must ascend and lookups
// must agree with a linear search; a header that decodes must encode back
// to its first 127 bytes, except the clustered byte (any non-1 reads as 0).

#include "cohort/tiles/pmtiles_format.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace cohort::app::tiles;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_directory(const std::vector<pmtiles_entry>& dir) {
  for (std::size_t i = 1; i < dir.size(); ++i) check(dir[i - 1].tile_id < dir[i].tile_id);
  check(decode_pmtiles_directory(encode_pmtiles_directory(dir)) == dir);
  for (const pmtiles_entry& e : dir) {
    check(e.length > 0);
    for (const std::uint64_t id : {e.tile_id, e.tile_id + 1}) {
      const pmtiles_entry* found = find_pmtiles_entry(dir, id);
      // The spec's lookup, by a linear search: the last entry starting at or
      // before `id`, if it is a leaf or its run covers `id`.
      const pmtiles_entry* last = nullptr;
      for (const pmtiles_entry& f : dir) {
        if (f.tile_id <= id) last = &f;
      }
      const pmtiles_entry* expected =
          last && (last->run_length == 0 || id - last->tile_id < last->run_length) ? last : nullptr;
      check(found == expected);
    }
  }
}

void check_message(const pmtiles_error& e) {
  const std::string_view what = e.what();
  check(!what.empty() && what.find('\n') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: {
        const pmtiles_header h = decode_pmtiles_header(input);
        std::string again(input.substr(0, pmtiles_header_size));
        if (again[96] != 1) again[96] = 0;
        check(encode_pmtiles_header(h) == again);
        break;
      }
      case 1: check_directory(decode_pmtiles_directory(input)); break;
      case 2: check_directory(decode_pmtiles_directory(input, pmtiles_compression::gzip)); break;
      default: {
        const std::string out = pmtiles_decompress(input, pmtiles_compression::gzip, 1 << 20);
        check(pmtiles_decompress(pmtiles_compress(out, pmtiles_compression::gzip),
                                 pmtiles_compression::gzip) == out);
      }
    }
  } catch (const pmtiles_error& e) {
    check_message(e);
  }
  return 0;
}
