/*
 * workqd: the command line.  Runs in the foreground; systemd supervises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"

#define DEFAULT_CONFIG	WQ_SYSCONFDIR "/workqd/workqd.yaml"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: workqd [-t] [-c file] [-i instance]\n"
	    "       workqd -V | -h\n"
	    "  -c file      configuration (default %s)\n"
	    "  -i instance  instance name, for the default consumer name\n"
	    "               <hostname>:<instance> (default 0)\n"
	    "  -t           check the configuration and plugins, then exit\n"
	    "  -V           print the version\n"
	    "  -h           print this help\n", DEFAULT_CONFIG);
}

int
main(int argc, char **argv)
{
	struct wqd_options opt = { .config = DEFAULT_CONFIG, .instance = "0" };
	int ch, check = 0;

	while ((ch = getopt(argc, argv, "c:i:thV")) != -1) {
		switch (ch) {
		case 'c':
			opt.config = optarg;
			break;
		case 'i':
			opt.instance = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("workqd %s\n", WQ_VERSION);
			return WQD_EXIT_OK;
		case 'h':
			usage(stdout);
			return WQD_EXIT_OK;
		default:
			usage(stderr);
			return WQD_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return WQD_EXIT_USAGE;
	}
	return check ? wqd_check(&opt) : wqd_run(&opt);
}
