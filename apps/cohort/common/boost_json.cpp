// Boost.JSON, compiled once for the tools (header-only mode: Debian's
// Boost headers carry it; no libboost_json needed). The tools read JSON
// (GeoJSON areas, TileJSON) with <boost/json.hpp> in their own files.
#include <boost/json/src.hpp>
