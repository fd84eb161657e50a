/* The live cases that make sense in a 32-bit (i386) process: in-place move
 * and proxy trampolines in the 11-byte i386 form, built with gcc -m32
 * against a 32-bit build of the same runtime sources. */
#include "live_common.h"

static const struct rt_case cases[] = {
	{"inplace", t_inplace},
	{"proxy", t_proxy},
	{"proxy_moved", t_proxy_moved},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return rt_main(cases, argc, argv);
}
