// In the core's include path only (CMakeLists.txt, "The library"): every Asio
// header includes this one.
#error "cohort core must not include Asio (DESIGN.md, Layers): move this code to src/runtime"
