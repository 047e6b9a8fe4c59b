/* SIGINT/SIGTERM handling: the first signal asks the sweep to stop after
 * the current step (the run is then recorded as interrupted, exit 130). */
#ifndef ZB_SIGNALS_H
#define ZB_SIGNALS_H

void zb_signals_install(void);
int zb_interrupted(void);

#endif
