/*
 * The child side of `vdsokit selftest` (cli/selftest.cpp): one case per process.
 *
 * Plain C so the same source runs in a forked copy of vdsokit (x86_64) and in the -m32 helper
 * `vdsokit-selftest32` (cli/selftest32.c), both linked with vk_runtime. The parent computes every
 * plan with analyzers/runtime_plan and sends it as text; the child only maps what a restored
 * process would hold, executes the plan with vk_rt_apply and calls the vDSO functions it is told
 * to call, comparing each with the raw syscall. After a move libc's cached vDSO pointers are
 * stale, so nothing here goes through libc's time functions.
 *
 * Protocol (lines, parent -> child on in_fd, child -> parent on out_fd):
 *   P: case inplace                  | case proxy <blob_len> <old_vvar_pages> <old_vdso_pages>\n<blob>
 *   C: ready <free> <proxy> <old_vvar>            (hex; free = a free range for the whole block)
 *   P: plan <len>\n<plan text>calls <n>\n<name> <hexaddr>\n...   (or EOF: give up)
 *   C: apply <rc> <code-name> moved=<n> tramps=<n> mark=<n> rolled_back=<n> ns=<ns>
 *   C: call <name> pass|fail|skip <detail>        (one per requested call)
 *   C: bench <name> <ns per call> syscall <ns per call>
 *   C: end pass|fail
 *   then the child waits for EOF on in_fd, so the parent can read /proc/PID/{maps,mem}.
 */
#ifndef VDSOKIT_SELFTEST_CHILD_H
#define VDSOKIT_SELFTEST_CHILD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Runs one case; returns the exit status (0 pass, 1 fail). */
int vk_st_child(int in_fd, int out_fd);

#ifdef __cplusplus
}
#endif

#endif
