/* Live migration made visible: dirty logging switched on and off (features_changed) and its counters. */
#ifndef HP_FWD_MIGRATION_H
#define HP_FWD_MIGRATION_H

#include <stdint.h>

/* features_changed callback: prints "features_changed vid=N log_all=0|1 features=0x..."; when logging stops, the
 * device's "log vid=N pages_marked=N cache_flushes=N" too. */
int migration_features_changed(int vid, uint64_t features);
/* A device goes away (destroy_device): its counters are printed when it ever logged, and added to the summary. */
void migration_device_gone(int vid);
/* Every stats interval: one "log vid=N ..." line per device that is logging now. */
void migration_print_interval(void);
/* The final "summary log pages_marked=N cache_flushes=N" line (devices gone and devices still there). */
void migration_print_summary(void);

#endif
