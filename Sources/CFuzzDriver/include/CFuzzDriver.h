// libFuzzer's entry for programs that keep their own main (LLVM >= 11). Only declared here:
// it exists in `swift build -Xswiftc -sanitize=fuzzer` builds (scripts/fuzz), where evac-fuzz
// calls it; a normal build never references it.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
