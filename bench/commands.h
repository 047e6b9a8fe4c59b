/* The zbench subcommands; each takes its own argv (argv[0] = its name) and
 * returns the process exit code: 0 success, 1 failure, 2 bad input. */
#ifndef ZB_COMMANDS_H
#define ZB_COMMANDS_H

int zb_cmd_list(int argc, char **argv);
int zb_cmd_verify(int argc, char **argv);
int zb_cmd_run(int argc, char **argv);
int zb_cmd_calibrate(int argc, char **argv);
/* reports/: cmd_report.c, cmd_compare.c */
int zb_cmd_report(int argc, char **argv);
int zb_cmd_compare(int argc, char **argv);

#endif
