/* A small Linux program: built with -g and a SHA-1 GNU build-id, then split into a stripped
 * binary and its debug file (objcopy --only-keep-debug), as distributions ship them. */
#include <stdio.h>

static int square(int x) { return x * x; }

int main(int argc, char **argv) {
  (void)argv;
  printf("symsrv test program: %d\n", square(argc + 1));
  return 0;
}
