using HotPath.Engine.Buffers;

namespace HotPath.Fuzz.Core;

/// <summary>Packets as mbuf chains from a real pool, and back to bytes.</summary>
internal static unsafe class PoolPackets
{
    /// <summary>An mbuf chain from <paramref name="pool"/> holding <paramref name="data"/>, <paramref name="segData"/> bytes per segment.</summary>
    public static Mbuf* Make(Mempool pool, ReadOnlySpan<byte> data, int segData)
    {
        Mbuf* head = null, prev = null;
        int segs = 0, at = 0;
        do
        {
            Mbuf* m = pool.Alloc();
            if (m == null)
            {
                if (head != null) MbufOps.Free(head);
                throw new InvalidOperationException($"pool {pool.Name} ran dry ({pool.InUse} in use)");
            }
            int n = Math.Min(Math.Min(segData, m->BufLen - m->DataOff), data.Length - at);
            data.Slice(at, n).CopyTo(new Span<byte>(m->Data, n));
            m->DataLen = (ushort)n;
            at += n;
            segs++;
            if (head == null) head = m;
            else prev->Next = m;
            prev = m;
        } while (at < data.Length);
        head->NbSegs = (ushort)segs;
        head->PktLen = (uint)data.Length;
        return head;
    }

    /// <summary>The bytes of an mbuf chain; checks that its segment lengths add up to its packet length.</summary>
    public static byte[] Bytes(Mbuf* m, out string? malformed)
    {
        malformed = null;
        var b = new byte[m->PktLen];
        int at = 0, segs = 0;
        for (Mbuf* s = m; s != null; s = s->Next, segs++)
        {
            if (at + s->DataLen > b.Length)
            {
                malformed = $"segments hold more than pkt_len {m->PktLen}";
                return b;
            }
            new ReadOnlySpan<byte>(s->Data, s->DataLen).CopyTo(b.AsSpan(at));
            at += s->DataLen;
        }
        if (at != b.Length) malformed = $"segments hold {at} bytes, pkt_len is {m->PktLen}";
        else if (segs != m->NbSegs) malformed = $"{segs} segments, nb_segs is {m->NbSegs}";
        return b;
    }
}
