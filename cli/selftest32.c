/*
 * vdsokit-selftest32: the i386 child of `vdsokit selftest` (cli/selftest.cpp).
 * Built with gcc -m32 together with a -m32 build of vk_runtime when the toolchain can link 32-bit
 * programs (Debian gcc-multilib). It runs one case of the protocol in selftest_child.h on stdin and
 * stdout; the 64-bit parent computes the plan from outside (/proc/PID/maps and /proc/PID/mem).
 */
#include "selftest_child.h"

int main(void)
{
	return vk_st_child(0, 1);
}
