/* hotpath.h on its own: it must compile with nothing before it, in C11 and C++, and survive a second include. */
#include <hotpath.h>
#ifdef INCLUDE_TWICE
#include <hotpath.h>
#endif

/* Something that uses the declarations, so the compiler checks more than the preprocessor. */
int header_only_probe(struct hp_mbuf *m);
int header_only_probe(struct hp_mbuf *m)
{
	const struct hp_vhost_device_ops ops = { 0, 0, 0, 0, 0, 0, 0, 0, 0, { 0, 0, 0 } };
	return (int)hp_pktmbuf_tailroom(m) + (ops.new_device == 0) + (int)sizeof(struct hp_vhost_vring);
}
