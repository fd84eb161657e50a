/*
 * The library is built as one translation unit so that its single object
 * has no undefined symbols at all (`nm -u` prints nothing): a restorer can
 * link or copy it without resolving anything, and cross-file helpers can
 * be inlined. The parts stay separate files for reading.
 */
#include "util.c"
#include "maps.c"
#include "plan.c"
#include "apply.c"
