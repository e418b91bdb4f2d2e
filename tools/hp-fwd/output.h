/* stdout lines from several threads (control-plane callbacks, the stats loop): whole lines, flushed at once. */
#ifndef HP_FWD_OUTPUT_H
#define HP_FWD_OUTPUT_H

void out_line(const char *line);

#endif
