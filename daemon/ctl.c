/*
 * workqctl: main (see ctl.h).
 *
 * DESIGN: options are read in two passes: those before the command, then
 * those after it, wherever they stand (`workqctl dead list --json` and
 * `workqctl --json dead list` are the same).  push is the exception: its
 * fields are data, and a value like -1 must not be taken for an option, so
 * after the command push takes options only before QUEUE.  Each command
 * says which options it accepts, so a misplaced one is a usage error
 * rather than silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

struct command {
	const char	*name;
	int		(*run)(struct ctl *c);
	int		 options;
};

static const struct command commands[] = {
	{ "stats", ctl_stats, CTL_O_QUEUE },
	{ "daemons", ctl_daemons, 0 },
	{ "push", ctl_push, CTL_O_FORCE },
	{ "dead", ctl_dead,
	    CTL_O_QUEUE | CTL_O_OLDER | CTL_O_LIMIT | CTL_O_ALL },
	{ "scheduled", ctl_scheduled, CTL_O_QUEUE | CTL_O_LIMIT },
	{ NULL }
};

static const char usage_text[] =
	"usage: workqctl [-c FILE] [-s ADDRESS] [--json] COMMAND [ARGS]\n"
	"\n"
	"  stats [QUEUE...]             per queue: stream length, pending,\n"
	"                               scheduled, dead, done, failed, jobs/s\n"
	"  daemons                      live daemons: heartbeat, busy/capacity\n"
	"  push [--force] QUEUE PAYLOAD [FIELD VALUE]...\n"
	"                               check one job's fields, push it, print\n"
	"                               its entry ID (options before QUEUE)\n"
	"  dead list [--older-than DURATION] [--limit N]\n"
	"  dead show ID...\n"
	"  dead retry ID... | --older-than DURATION | --all\n"
	"  dead purge ID... | --older-than DURATION | --all\n"
	"  scheduled list [--limit N]\n"
	"\n"
	"  -c, --config FILE   workqd's config (default:\n"
	"                      " CTL_DEFAULT_CONFIG ";\n"
	"                      if absent, workqd's defaults)\n"
	"  -s, --server ADDR   Redis at unix:/PATH or HOST:PORT instead\n"
	"  -q, --queue QUEUE   only this queue (repeat for more); default: the\n"
	"                      config's queues\n"
	"      --json          one JSON document instead of tables\n"
	"      --older-than D  dead-lettered longer ago than D (90s, 1h, 7d)\n"
	"      --all           every entry (dead retry, dead purge)\n"
	"      --limit N       at most N entries per queue (default 100;\n"
	"                      0: all)\n"
	"      --force         push to a queue or plugin the config lacks\n"
	"  -h, --help, -V, --version\n"
	"\n"
	"jobs/s is the sum over live daemons of each one's jobs done per second\n"
	"during its last heartbeat period.\n"
	"Exit status: 0 ok, 1 failure, 64 usage, 69 Redis unreachable,\n"
	"78 configuration.\n";

/* "workqctl: <message>" on stderr, after what stdout holds so far. */
static void WQ_PRINTF(1, 0)
vsay(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("workqctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
ctl_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(code);
}

void
ctl_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fputs("(workqctl -h for help)\n", stderr);
	exit(CTL_EXIT_USAGE);
}

void
ctl_allow(const struct ctl *c, int allowed, const char *what)
{
	static const char *const names[] = {
		"--queue", "--older-than", "--limit", "--all", "--force"
	};

	for (int i = 0; i < 5; i++)
		if ((c->used & ~allowed & (1 << i)) != 0)
			ctl_usage("%s does not take %s", what, names[i]);
}

/* The config file, or workqd's defaults when the default file is absent. */
static void
load_config(struct ctl *c, const char *path, int given)
{
	char err[1024];

	if (!given && access(path, F_OK) < 0 && errno == ENOENT) {
		c->conf = wq_conf_load_buffer("(defaults)", "", 0, err,
		    sizeof(err));
		path = NULL;
	} else
		c->conf = wq_conf_load(path, err, sizeof(err));
	if (c->conf == NULL)
		ctl_fail(CTL_EXIT_CONFIG, "%s", err);
	c->config = path;
	c->prefix = c->conf->redis.prefix;
	c->group = c->conf->redis.group;
}

static long
number(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		ctl_usage("%s: expected a number, got '%s'", opt, s);
	return v;
}

/* Reads options from argv[1..] (argv[0] is skipped, as getopt does);
   permute: take them from anywhere, else stop at the first operand. */
static void
parse(struct ctl *c, int argc, char **argv, int permute, const char **config,
    int *given)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, 's' },
		{ "queue", required_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opterr = 0;
	optind = 0;	/* GNU: start afresh (a new argv, another mode) */
	while ((ch = getopt_long(argc, argv, permute ? ":c:s:q:hV" :
	    "+:c:s:q:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*config = optarg;
			*given = 1;
			break;
		case 's':
			c->server = optarg;
			break;
		case 'q':
			if (c->nqueue_opts == CTL_MAX_QUEUE_OPTS)
				ctl_usage("too many --queue options");
			c->queue_opts[c->nqueue_opts++] = optarg;
			c->used |= CTL_O_QUEUE;
			break;
		case 'j':
			c->json = 1;
			break;
		case 'o':
			c->older_than_ms = ctl_duration("--older-than",
			    optarg);
			c->used |= CTL_O_OLDER;
			break;
		case 'l':
			c->limit = number("--limit", optarg);
			c->used |= CTL_O_LIMIT;
			break;
		case 'a':
			c->all = 1;
			c->used |= CTL_O_ALL;
			break;
		case 'f':
			c->force = 1;
			c->used |= CTL_O_FORCE;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(CTL_EXIT_OK);
		case 'V':
			printf("workqctl %s\n", WQ_VERSION);
			exit(CTL_EXIT_OK);
		case ':':
			ctl_usage("%s needs a value", argv[optind - 1]);
		default:
			ctl_usage("unknown option '%s' (a value that starts "
			    "with '-' goes after --)", argv[optind - 1]);
		}
	}
}

/* The command and its operands, after the options after it. */
static void
operands(struct ctl *c, int argc, char **argv, const char **config,
    int *given)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v));
	int n = 0;

	if (v == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	parse(c, argc, argv, strcmp(argv[0], "push") != 0, config, given);
	v[n++] = argv[0];
	while (optind < argc)
		v[n++] = argv[optind++];
	c->argc = n;
	c->argv = v;
}

int
main(int argc, char **argv)
{
	struct ctl c = { .older_than_ms = -1, .limit = 100 };
	const char *config = CTL_DEFAULT_CONFIG;
	const struct command *cmd;
	int given = 0, rc;

	parse(&c, argc, argv, 0, &config, &given);
	if (optind >= argc)
		ctl_usage("no command given");
	operands(&c, argc - optind, argv + optind, &config, &given);
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, c.argv[0]) == 0)
			break;
	if (cmd->name == NULL)
		ctl_usage("unknown command '%s'", c.argv[0]);
	ctl_allow(&c, cmd->options, cmd->name);
	load_config(&c, config, given);
	ctl_connect(&c);
	rc = cmd->run(&c);
	ctl_disconnect(&c);
	wq_conf_free(c.conf);
	free(c.argv);
	if (fflush(stdout) == EOF || ferror(stdout))
		ctl_fail(CTL_EXIT_FAIL, "writing the output: %s",
		    strerror(errno));
	return rc;
}
