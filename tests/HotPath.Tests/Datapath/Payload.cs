using System.Buffers.Binary;

namespace HotPath.Tests.Datapath;

/// <summary>Deterministic packet bytes: a sequence number in the first 8 bytes (when they fit), then a pattern.</summary>
internal static class Payload
{
    public static byte[] Make(int length, ulong seq)
    {
        var b = new byte[length];
        Fill(b, seq);
        return b;
    }

    public static void Fill(Span<byte> b, ulong seq)
    {
        uint x = (uint)(seq * 2654435761UL) | 1;
        for (int i = 0; i < b.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b[i] = (byte)x;
        }
        if (b.Length >= 8) BinaryPrimitives.WriteUInt64LittleEndian(b, seq);
    }

    /// <summary>The sequence number of a packet made by <see cref="Make"/> (at least 8 bytes long).</summary>
    public static ulong Seq(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt64LittleEndian(b);

    /// <summary>True when <paramref name="b"/> is exactly what <see cref="Make"/> builds for its length and seq.</summary>
    public static bool Matches(ReadOnlySpan<byte> b, ulong seq)
    {
        Span<byte> expect = b.Length <= 16384 ? stackalloc byte[b.Length] : new byte[b.Length];
        Fill(expect, seq);
        return b.SequenceEqual(expect);
    }

    /// <summary>The sizes every round trip covers, plus a few random ones (seeded).</summary>
    public static readonly int[] Sizes = { 1, 60, 64, 1500, 1518, 9000 };

    public static int[] WithRandom(int seed, int count, int max = 9000)
    {
        var r = new Random(seed);
        return Sizes.Concat(Enumerable.Range(0, count).Select(_ => r.Next(1, max + 1))).ToArray();
    }
}
