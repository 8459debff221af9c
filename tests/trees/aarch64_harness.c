/* Test harness for tests/trees/test_aarch64_qemu.py: dlopen a compiled-trees library, run predict() on
 * float32 rows from stdin (get_num_feature() each), write get_num_class() probabilities to stdout. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 2; }
  void (*predict)(void*, int, float*) = dlsym(h, "predict");
  int (*nf)(void) = dlsym(h, "get_num_feature");
  if (!predict || !nf) return 2;
  int n = nf();
  int nc = 0; void (*ncls)(int*) = dlsym(h, "get_num_class"); ncls(&nc);
  float row[256]; float out[64];
  if (n > 256 || nc > 64) return 3;
  while (fread(row, sizeof(float), n, stdin) == (size_t)n) {
    for (int k = 0; k < nc; ++k) out[k] = 0.0f;
    predict(row, 0, out);
    fwrite(out, sizeof(float), nc, stdout);
  }
  return 0;
}
