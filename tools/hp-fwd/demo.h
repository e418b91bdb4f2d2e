/* hp-fwd --demo: HotPath's own frontend (hp-frontend) drives traffic through hp-fwd in three directions. */
#ifndef HP_FWD_DEMO_H
#define HP_FWD_DEMO_H

/* Runs the demo; argv0 locates hp-frontend beside hp-fwd. Returns the process exit code. */
int run_demo(const char *argv0, unsigned seconds);

#endif
