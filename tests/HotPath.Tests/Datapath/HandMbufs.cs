using System.Runtime.InteropServices;
using HotPath.Engine.Buffers;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Mbuf chains built by hand in native memory (no pool), for enqueue tests that need exact segment shapes,
/// including malformed ones. Free with <see cref="Free"/>.
/// </summary>
internal static unsafe class HandMbufs
{
    /// <summary>A chain holding <paramref name="data"/> in segments of at most <paramref name="segData"/> bytes.</summary>
    public static Mbuf* Make(ReadOnlySpan<byte> data, int segData = 2048, ushort headroom = Mbuf.DefaultHeadroom)
    {
        int segs = Math.Max(1, (data.Length + segData - 1) / segData);
        Mbuf* head = null, prev = null;
        for (int s = 0; s < segs; s++)
        {
            var m = (Mbuf*)NativeMemory.AllocZeroed((nuint)(Mbuf.HeaderSize + headroom + segData));
            m->BufAddr = (byte*)m + Mbuf.HeaderSize;
            m->BufLen = (ushort)(headroom + segData);
            m->DataOff = headroom;
            m->RefCnt = 1;
            m->NbSegs = 1;
            int n = Math.Min(segData, data.Length - s * segData);
            data.Slice(s * segData, n).CopyTo(new Span<byte>(m->Data, n));
            m->DataLen = (ushort)n;
            if (head == null) head = m;
            else prev->Next = m;
            prev = m;
        }
        head->NbSegs = (ushort)segs;
        head->PktLen = (uint)data.Length;
        return head;
    }

    /// <summary>The packet any mbuf chain (hand-made or from a pool) holds, segment by segment.</summary>
    public static byte[] Bytes(Mbuf* m)
    {
        var b = new byte[m->PktLen];
        int at = 0;
        for (Mbuf* s = m; s != null; s = s->Next)
        {
            new ReadOnlySpan<byte>(s->Data, s->DataLen).CopyTo(b.AsSpan(at));
            at += s->DataLen;
        }
        Assert.Equal(b.Length, at);
        return b;
    }

    public static void Free(Mbuf* m)
    {
        while (m != null)
        {
            Mbuf* next = m->Next;
            NativeMemory.Free(m);
            m = next;
        }
    }
}
