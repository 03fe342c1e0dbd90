// In the core's include path only (CMakeLists.txt, "The library").
#error "cohort core must not include libcurl (DESIGN.md, Layers): the HTTP client lives in src/io"
