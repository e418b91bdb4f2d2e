#include "output.h"

#include <stdio.h>

void out_line(const char *line)
{
	/* stdio locks the stream per call; one call per line keeps lines whole, the flush makes them visible to a
	 * script reading the pipe as soon as the event happened. */
	flockfile(stdout);
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
}
