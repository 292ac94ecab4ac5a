/*
 * fuzz: the libFuzzer entry point every tests/fuzz/fuzz_*.c defines.
 *
 * Each target feeds one input to a real parser of holdfast and must return
 * 0 whatever the input; a crash, a sanitizer report, a leak or an abort is
 * the finding. The same file is linked two ways: with clang's libFuzzer
 * (`make fuzz`, tests/fuzz.mk) and with replay.c, the plain main() that
 * `make check` runs over the committed corpus tests/fuzz/corpus/<target>/.
 */
#ifndef HOLDFAST_FUZZ_H
#define HOLDFAST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
