/* A Windows DLL with one export and no C runtime or entry point (linked with /noentry). */
__declspec(dllexport) int symsrv_add(int a, int b) { return a + b; }

__declspec(dllexport) int symsrv_mul(int a, int b) { return a * b; }
