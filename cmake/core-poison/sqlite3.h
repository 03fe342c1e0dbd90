// In the core's include path only (CMakeLists.txt, "The library").
#error "cohort core must not include SQLite (DESIGN.md, Layers): the journal lives in src/runner"
