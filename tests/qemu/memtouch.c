/*
 * memtouch: the guest's memory pattern for the live-migration boots of tests/qemu/run.sh (built -static, put in
 * the initramfs). It keeps rewriting MIB mebibytes, one 4 KiB page per millisecond, every 8-byte word of page i in
 * pass g holding (g << 32 | i), until SIGINT or SIGTERM; then it checks every page against where the writer was:
 * pages before its position hold the current pass, the others the pass before. A page the migration lost, or
 * brought over stale, fails the check.
 *
 * usage: memtouch MIB
 * prints: memtouch pages=N passes=G bad=B [first_bad=page:found:expected]
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096
#define WORDS (PAGE / 8)

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void fill(uint64_t *page, uint64_t pass, uint64_t index)
{
	for (int w = 0; w < WORDS; w++)
		page[w] = pass << 32 | index;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct timespec pause = { 0, 1000000 };
	unsigned long mib = argc == 2 ? strtoul(argv[1], NULL, 10) : 0;
	size_t pages, pos = 0, bad = 0;
	uint64_t pass = 1, *mem;
	char first[96] = "";

	if (mib == 0 || mib > 1024) {
		fprintf(stderr, "usage: memtouch MIB (1..1024)\n");
		return 2;
	}
	pages = mib * 256;
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memtouch: mmap");
		return 1;
	}
	for (size_t i = 0; i < pages; i++)
		fill(mem + i * WORDS, 0, i);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	while (!g_stop) {
		fill(mem + pos * WORDS, pass, pos);
		if (++pos == pages) {
			pos = 0;
			pass++;
		}
		nanosleep(&pause, NULL);
	}

	for (size_t i = 0; i < pages; i++) {
		uint64_t want = (i < pos ? pass : pass - 1) << 32 | i;
		const uint64_t *page = mem + i * WORDS;
		for (int w = 0; w < WORDS; w++) {
			if (page[w] == want)
				continue;
			if (bad++ == 0)
				snprintf(first, sizeof(first), " first_bad=%zu:0x%llx:0x%llx", i, (unsigned long long)page[w],
					 (unsigned long long)want);
			break;
		}
	}
	printf("memtouch pages=%zu passes=%llu bad=%zu%s\n", pages, (unsigned long long)pass, bad, first);
	return bad == 0 ? 0 : 1;
}
