/* vdsokit kernel-layout probe: runs as a static binary inside a qemu guest (built for x86_64, i386 and
 * x32). Prints /proc/self/maps and the bytes of the runtime vDSO (base from AT_SYSINFO_EHDR, length from
 * its maps line) as base64 between markers on stdout (the serial console). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#if defined(__x86_64__) && defined(__ILP32__)
#define ABI "x32"
#elif defined(__x86_64__)
#define ABI "x86_64"
#else
#define ABI "i386"
#endif

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(const unsigned char *p, unsigned long n) {
  char line[80];
  int k = 0;
  for (unsigned long i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    line[k++] = b64[(v >> 18) & 63];
    line[k++] = b64[(v >> 12) & 63];
    line[k++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    line[k++] = i + 2 < n ? b64[v & 63] : '=';
    if (k == 76) { fwrite(line, 1, k, stdout); fputc('\n', stdout); k = 0; }
  }
  if (k) { fwrite(line, 1, k, stdout); fputc('\n', stdout); }
}

int main(void) {
  unsigned long base = getauxval(AT_SYSINFO_EHDR);
  unsigned long start = 0, end = 0;
  char buf[512];
  FILE *m = fopen("/proc/self/maps", "r");
  if (!m) { printf("==VK-ERROR " ABI " cannot open maps==\n"); return 1; }
  printf("==VK-MAPS " ABI "==\n");
  while (fgets(buf, sizeof buf, m)) {
    unsigned long s, e;
    fputs(buf, stdout);
    if (sscanf(buf, "%lx-%lx", &s, &e) == 2 && s == base) { start = s; end = e; }
  }
  fclose(m);
  printf("==VK-END==\n");
  if (!base || !end) { printf("==VK-ERROR " ABI " no vdso mapping at %#lx==\n", base); return 1; }
  printf("==VK-VDSO " ABI " base=%#lx size=%lu==\n", base, end - start);
  put_base64((const unsigned char *)start, end - start);
  printf("==VK-END==\n");
  fflush(stdout);
  return 0;
}
