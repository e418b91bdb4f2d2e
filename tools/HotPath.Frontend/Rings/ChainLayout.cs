namespace HotPath.Frontend.Rings;

/// <summary>How the ring drivers cut a TX packet or an RX buffer into descriptor lengths (ring-independent).</summary>
public static class ChainLayout
{
    /// <summary>
    /// The descriptor lengths of a TX packet of <paramref name="dataLen"/> bytes behind a <paramref name="hdr"/>-byte
    /// header, laid out as <paramref name="shape"/> says: the header first (alone or with data), the data spread evenly.
    /// </summary>
    public static void Tx(TxShape shape, int hdr, int dataLen, Span<uint> lens)
    {
        int dataDescs = Math.Max(1, shape.DataDescriptors);
        int chunk = (dataLen + dataDescs - 1) / dataDescs;
        int left = dataLen;
        for (int p = 0; p < lens.Length; p++)
        {
            bool dataHere = !(shape.SeparateHeader && p == 0);
            int n = dataHere ? Math.Min(chunk, left) : 0;
            left -= n;
            lens[p] = (uint)((p == 0 ? hdr : 0) + n);
        }
    }

    /// <summary>An RX buffer of <paramref name="len"/> bytes over <paramref name="lens"/>.Length descriptors, evenly.</summary>
    public static void Rx(uint len, Span<uint> lens)
    {
        uint chunk = (uint)((len + lens.Length - 1) / lens.Length);
        uint left = len;
        for (int p = 0; p < lens.Length; p++)
        {
            lens[p] = Math.Min(chunk, left);
            left -= lens[p];
        }
    }
}
