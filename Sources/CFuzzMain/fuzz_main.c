// The entry point of strdist-fuzz when built for libFuzzer (scripts/fuzz.sh passes
// -DSTRDIST_FUZZING): SwiftPM links an executable's `main` to `<module>_main`, so this hands the
// process to libFuzzer's driver with the Swift target function (LLVMFuzzerTestOneInput, @_cdecl in
// Entry.swift). In an ordinary build the file is empty and Entry.swift's @main replays files.
#ifdef STRDIST_FUZZING
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int strdist_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
#endif
