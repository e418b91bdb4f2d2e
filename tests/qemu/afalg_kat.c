/*
 * afalg_kat: the guest's virtio-crypto checks for tests/qemu/run.sh (built -static, put in the initramfs). Every
 * request goes through AF_ALG to the skcipher bound by its driver name (so to virtio_crypto, never to a software
 * implementation the kernel might prefer), and every answer is checked:
 *   kat        NIST SP 800-38A F.2.1-F.2.6 (AES-128/192/256-CBC, encrypt and decrypt, 64 bytes)
 *   multipage  buffers of 4112, 16384, 32768 and 65536 bytes placed across page boundaries, against this file's own AES
 *   oversize   a 131072-byte request (more than a HotPath request holds): an error (EBADMSG from the device's status),
 *              never success with wrong data
 *   flood      COUNT requests of random length (16..4096 B, keys of 16/24/32 bytes changed every 64 requests, random
 *              IVs), each encrypted and decrypted, against this file's own AES
 *   bench      BENCH_SECS seconds each of 64, 1024 and 4096-byte AES-128-CBC encryptions: requests/s and MB/s
 * usage: afalg_kat DRIVER FLOOD_COUNT BENCH_SECS
 * prints HPQ-RESULT crypto-<step> PASS|FAIL ..., HPQ-DATA crypto-bench-<size> ..., and last
 *   HPQ-DATA crypto-total requests=N bytes=B refused=R   (requests this program had answered, bytes of source; requests
 *   the device refused)
 */
#include <errno.h>
#include <linux/if_alg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif
#define MAX_LEN 131072

static const char *g_driver;
static unsigned long long g_requests, g_bytes, g_refused;

/* ---- software AES (FIPS 197), encryption only: decryption is checked by decrypting the expected ciphertext ---- */

static uint8_t sbox[256];

static uint8_t xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b)); }

static void sbox_init(void)
{
	uint8_t p = 1, q = 1;
	do { /* p runs over the multiplicative group (generator 3), q = p^-1 */
		p = (uint8_t)(p ^ (p << 1) ^ ((p & 0x80) ? 0x1b : 0));
		q ^= (uint8_t)(q << 1);
		q ^= (uint8_t)(q << 2);
		q ^= (uint8_t)(q << 4);
		if (q & 0x80)
			q ^= 0x09;
		uint8_t x = (uint8_t)(q ^ (q << 1 | q >> 7) ^ (q << 2 | q >> 6) ^ (q << 3 | q >> 5) ^ (q << 4 | q >> 4));
		sbox[p] = (uint8_t)(x ^ 0x63);
	} while (p != 1);
	sbox[0] = 0x63;
}

struct aes { uint8_t rk[240]; int rounds; };

static void aes_setkey(struct aes *a, const uint8_t *key, int klen)
{
	int nk = klen / 4, words = 4 * (nk + 7);
	uint8_t rcon = 1, t[4];
	a->rounds = nk + 6;
	memcpy(a->rk, key, (size_t)klen);
	for (int i = nk; i < words; i++) {
		memcpy(t, a->rk + 4 * (i - 1), 4);
		if (i % nk == 0) {
			uint8_t u = t[0];
			t[0] = (uint8_t)(sbox[t[1]] ^ rcon); t[1] = sbox[t[2]]; t[2] = sbox[t[3]]; t[3] = sbox[u];
			rcon = xtime(rcon);
		} else if (nk > 6 && i % nk == 4) {
			for (int k = 0; k < 4; k++) t[k] = sbox[t[k]];
		}
		for (int k = 0; k < 4; k++) a->rk[4 * i + k] = (uint8_t)(a->rk[4 * (i - nk) + k] ^ t[k]);
	}
}

static void aes_block(const struct aes *a, uint8_t s[16])
{
	for (int k = 0; k < 16; k++) s[k] ^= a->rk[k];
	for (int r = 1; r <= a->rounds; r++) {
		uint8_t t[16];
		for (int c = 0; c < 4; c++)     /* SubBytes and ShiftRows */
			for (int row = 0; row < 4; row++) t[4 * c + row] = sbox[s[4 * ((c + row) % 4) + row]];
		if (r != a->rounds)
			for (int c = 0; c < 4; c++) { /* MixColumns */
				uint8_t *m = t + 4 * c, x = (uint8_t)(m[0] ^ m[1] ^ m[2] ^ m[3]), m0 = m[0];
				m[0] ^= (uint8_t)(x ^ xtime((uint8_t)(m[0] ^ m[1])));
				m[1] ^= (uint8_t)(x ^ xtime((uint8_t)(m[1] ^ m[2])));
				m[2] ^= (uint8_t)(x ^ xtime((uint8_t)(m[2] ^ m[3])));
				m[3] ^= (uint8_t)(x ^ xtime((uint8_t)(m[3] ^ m0)));
			}
		for (int k = 0; k < 16; k++) s[k] = (uint8_t)(t[k] ^ a->rk[16 * r + k]);
	}
}

static void sw_cbc_encrypt(const uint8_t *key, int klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len)
{
	struct aes a;
	uint8_t c[16];
	aes_setkey(&a, key, klen);
	memcpy(c, iv, 16);
	for (size_t off = 0; off < len; off += 16) {
		for (int k = 0; k < 16; k++) c[k] ^= in[off + k];
		aes_block(&a, c);
		memcpy(out + off, c, 16);
	}
}

/* ---- AF_ALG ---- */

struct alg { int tfm, op; };

static int alg_open(struct alg *g, const uint8_t *key, int klen)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	strcpy((char *)sa.salg_type, "skcipher");
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", g_driver);
	g->tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (g->tfm < 0 || bind(g->tfm, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(g->tfm, SOL_ALG, ALG_SET_KEY, key, (socklen_t)klen) != 0 || (g->op = accept(g->tfm, NULL, 0)) < 0) {
		int e = errno;
		if (g->tfm >= 0)
			close(g->tfm);
		return -e;
	}
	return 0;
}

static void alg_close(struct alg *g) { close(g->op); close(g->tfm); }

/* One request: LEN bytes of IN through the cipher in direction ENC with IV; OUT gets LEN bytes. 0 or -errno. */
static int alg_run(struct alg *g, int enc, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len)
{
	union { char buf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)]; struct cmsghdr align; } u;
	struct iovec iov = { (void *)in, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	struct af_alg_iv *aiv;
	ssize_t r;
	size_t got = 0;

	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG; c->cmsg_type = ALG_SET_OP; c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = enc ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG; c->cmsg_type = ALG_SET_IV; c->cmsg_len = CMSG_LEN(sizeof(*aiv) + 16);
	aiv = (struct af_alg_iv *)CMSG_DATA(c);
	aiv->ivlen = 16;
	memcpy(aiv->iv, iv, 16);
	if (sendmsg(g->op, &msg, 0) != (ssize_t)len)
		return -errno;
	while (got < len) {
		r = read(g->op, out + got, len - got);
		if (r <= 0)
			return r == 0 ? -EIO : -errno;
		got += (size_t)r;
	}
	g_requests++;
	g_bytes += len;
	return 0;
}

static int hex(const char *s, uint8_t *out)
{
	int n = 0;
	for (; s[0] && s[1]; s += 2)
		out[n++] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
	return n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) { g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17; return (uint32_t)(g_rng >> 16); }
static void fill(uint8_t *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd(); }

/* Encrypts and decrypts one buffer through the device; 0 when both match the software's ciphertext and plaintext. */
static int check_one(const uint8_t *key, int klen, const uint8_t *iv, const uint8_t *pt, size_t len, uint8_t *want,
		     uint8_t *got, char *why, size_t whylen)
{
	struct alg g;
	int rc = alg_open(&g, key, klen);
	if (rc != 0) {
		snprintf(why, whylen, "AF_ALG %s, %d-byte key: %s", g_driver, klen, strerror(-rc));
		return -1;
	}
	sw_cbc_encrypt(key, klen, iv, pt, want, len);
	if ((rc = alg_run(&g, 1, iv, pt, got, len)) != 0 || memcmp(got, want, len) != 0) {
		snprintf(why, whylen, "encrypt %zu B, %d-byte key: %s", len, klen, rc ? strerror(-rc) : "wrong ciphertext");
		alg_close(&g);
		return -1;
	}
	if ((rc = alg_run(&g, 0, iv, want, got, len)) != 0 || memcmp(got, pt, len) != 0) {
		snprintf(why, whylen, "decrypt %zu B, %d-byte key: %s", len, klen, rc ? strerror(-rc) : "wrong plaintext");
		alg_close(&g);
		return -1;
	}
	alg_close(&g);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *keys[] = { "2b7e151628aed2a6abf7158809cf4f3c",
				      "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
				      "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4" };
	static const char *cts[] = {
		"7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
		"4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
		"f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b" };
	static const char *pt_hex =
		"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
	uint8_t key[32], iv[16], pt[64], ct[64], out[64];
	uint8_t *bufs, *a, *b, *c;
	char why[200] = "";
	int fails = 0, rc;
	long count;
	double secs;

	if (argc != 4) {
		fprintf(stderr, "usage: afalg_kat DRIVER FLOOD_COUNT BENCH_SECS\n");
		return 2;
	}
	g_driver = argv[1];
	count = strtol(argv[2], NULL, 10);
	secs = strtod(argv[3], NULL);
	sbox_init();
	/* Three buffers a page and a bit apart, each starting 100 bytes into a page: every large one crosses pages. */
	bufs = aligned_alloc(4096, 3 * (MAX_LEN + 8192));
	if (bufs == NULL)
		return 1;
	a = bufs + 100; b = a + MAX_LEN + 8192; c = b + MAX_LEN + 8192;

	/* kat: SP 800-38A, each key size, encrypt and decrypt; the software AES must give the same answers. */
	hex(pt_hex, pt);
	for (int i = 0; i < 16; i++) iv[i] = (uint8_t)i;
	for (int k = 0; k < 3 && !fails; k++) {
		struct alg g;
		int klen = hex(keys[k], key);
		hex(cts[k], ct);
		sw_cbc_encrypt(key, klen, iv, pt, out, 64);
		if (memcmp(out, ct, 64) != 0) {
			snprintf(why, sizeof(why), "this program's software AES-%d disagrees with SP 800-38A", klen * 8);
			fails++;
		} else if ((rc = alg_open(&g, key, klen)) != 0) {
			snprintf(why, sizeof(why), "AF_ALG %s, %d-byte key: %s", g_driver, klen, strerror(-rc));
			fails++;
		} else {
			if ((rc = alg_run(&g, 1, iv, pt, out, 64)) != 0 || memcmp(out, ct, 64) != 0)
				snprintf(why, sizeof(why), "AES-%d-CBC encrypt: %s", klen * 8, rc ? strerror(-rc) : "wrong ciphertext"), fails++;
			else if ((rc = alg_run(&g, 0, iv, ct, out, 64)) != 0 || memcmp(out, pt, 64) != 0)
				snprintf(why, sizeof(why), "AES-%d-CBC decrypt: %s", klen * 8, rc ? strerror(-rc) : "wrong plaintext"), fails++;
			alg_close(&g);
		}
	}
	if (fails)
		printf("HPQ-RESULT crypto-kat FAIL %s\n", why);
	else
		printf("HPQ-RESULT crypto-kat PASS SP 800-38A F.2.1-F.2.6 through %s: AES-128/192/256-CBC encrypt and decrypt\n", g_driver);

	/* multipage */
	fails = 0;
	{
		static const size_t lens[] = { 4112, 16384, 32768, 65536 };
		for (int i = 0; i < 4 && !fails; i++) {
			fill(key, 32); fill(iv, 16); fill(a, lens[i]);
			if (check_one(key, 16 << (i % 2), iv, a, lens[i], b, c, why, sizeof(why)) != 0)
				fails++;
		}
	}
	if (fails)
		printf("HPQ-RESULT crypto-multipage FAIL %s\n", why);
	else
		printf("HPQ-RESULT crypto-multipage PASS 4112, 16384, 32768 and 65536-byte buffers across pages, encrypt and decrypt\n");

	/* oversize: refused or right, never a wrong answer that reads as success */
	{
		struct alg g;
		size_t len = MAX_LEN;
		fill(key, 16); fill(iv, 16); fill(a, len);
		sw_cbc_encrypt(key, 16, iv, a, b, len);
		if ((rc = alg_open(&g, key, 16)) != 0) {
			printf("HPQ-RESULT crypto-oversize FAIL AF_ALG open: %s\n", strerror(-rc));
		} else {
			rc = alg_run(&g, 1, iv, a, c, len);
			if (rc == 0 && memcmp(b, c, len) != 0)
				printf("HPQ-RESULT crypto-oversize FAIL %zu B: success with a wrong ciphertext\n", len);
			else if (rc == 0)
				printf("HPQ-RESULT crypto-oversize PASS %zu B: served right (the guest split it)\n", len);
			else if (rc == -EBADMSG)
				printf("HPQ-RESULT crypto-oversize PASS %zu B: refused, the guest read %s\n", len, strerror(-rc));
			else
				printf("HPQ-RESULT crypto-oversize FAIL %zu B: %s (expected EBADMSG)\n", len, strerror(-rc));
			if (rc != 0) /* the device answered one request and counted it as an error, with no bytes */
				g_refused++;
			alg_close(&g);
		}
	}

	/* flood: keys change every 64 requests (a new tfm: new sessions on the device) */
	fails = 0;
	{
		struct alg g = { -1, -1 };
		long done = 0;
		double t0 = now();
		int klen = 16;
		for (long i = 0; i < count && !fails; i++) {
			size_t len = 16 * (1 + rnd() % 256);
			if (i % 64 == 0) {
				if (g.tfm >= 0)
					alg_close(&g);
				klen = 16 + 8 * (int)(rnd() % 3);
				fill(key, (size_t)klen);
				if ((rc = alg_open(&g, key, klen)) != 0) {
					snprintf(why, sizeof(why), "request %ld: AF_ALG open: %s", i, strerror(-rc));
					g.tfm = -1;
					fails++;
					break;
				}
			}
			fill(iv, 16); fill(a, len);
			sw_cbc_encrypt(key, klen, iv, a, b, len);
			if ((rc = alg_run(&g, 1, iv, a, c, len)) != 0 || memcmp(b, c, len) != 0)
				snprintf(why, sizeof(why), "request %ld (%zu B, %d-byte key) encrypt: %s", i, len, klen,
					 rc ? strerror(-rc) : "wrong ciphertext"), fails++;
			else if ((rc = alg_run(&g, 0, iv, b, c, len)) != 0 || memcmp(a, c, len) != 0)
				snprintf(why, sizeof(why), "request %ld (%zu B, %d-byte key) decrypt: %s", i, len, klen,
					 rc ? strerror(-rc) : "wrong plaintext"), fails++;
			done++;
		}
		if (g.tfm >= 0)
			alg_close(&g);
		if (fails)
			printf("HPQ-RESULT crypto-flood FAIL %s\n", why);
		else
			printf("HPQ-RESULT crypto-flood PASS %ld encrypt+decrypt pairs of 16..4096 B, keys of 16/24/32 B, every answer checked, %.1f s\n",
			       done, now() - t0);
	}

	/* bench */
	{
		static const size_t sizes[] = { 64, 1024, 4096 };
		struct alg g;
		fill(key, 16);
		if (secs > 0 && alg_open(&g, key, 16) == 0) {
			for (int i = 0; i < 3; i++) {
				unsigned long long n = 0;
				double t0 = now(), t;
				fill(a, sizes[i]);
				do {
					if (alg_run(&g, 1, iv, a, c, sizes[i]) != 0)
						break;
					n++;
				} while ((t = now() - t0) < secs);
				t = now() - t0;
				printf("HPQ-DATA crypto-bench-%zu requests=%llu seconds=%.2f rps=%.0f mbytes_per_s=%.2f\n", sizes[i], n, t,
				       n / t, n * sizes[i] / t / 1e6);
			}
			alg_close(&g);
		}
	}
	printf("HPQ-DATA crypto-total requests=%llu bytes=%llu refused=%llu\n", g_requests, g_bytes, g_refused);
	free(bufs);
	return 0;
}
