/*
 * A Windows console program with no C runtime: clang-14 (cl driver) + lld-link-14 build it on
 * Linux without a Windows SDK (see scripts/build-testbins.sh). VARIANT makes each image's code,
 * and so its PDB's GUID, differ from the others built from this file.
 */
#ifndef VARIANT
#define VARIANT 0
#endif

static volatile int sink;

int main(void) {
  sink = 42 + VARIANT;
  return sink;
}
