// In the core's include path only (CMakeLists.txt, "The library"): the core
// links no Boost, and every Boost header includes this one.
#error "cohort core must not include Boost (DESIGN.md, Layers): move this code to src/runtime"
