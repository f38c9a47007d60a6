/*
 * The daemon: core wired together, signals, systemd, and the decisions
 * that end the process.  Only daemon/ exits; core reports.
 */
#ifndef WQD_DAEMON_H
#define WQD_DAEMON_H

/* Exit codes (sysexits.h). */
#define WQD_EXIT_OK		0
#define WQD_EXIT_USAGE		64
#define WQD_EXIT_SOFTWARE	70
#define WQD_EXIT_CONFIG		78

struct wqd_options {
	const char	*config;	/* the YAML file */
	const char	*instance;	/* for the default consumer name */
};

/* workqd -t: checks the config and loads the plugins without starting
   them.  Prints "configuration OK" or the error; returns the exit code. */
int	wqd_check(const struct wqd_options *opt);
/* Runs in the foreground until stopped; returns the exit code. */
int	wqd_run(const struct wqd_options *opt);

#endif /* WQD_DAEMON_H */
