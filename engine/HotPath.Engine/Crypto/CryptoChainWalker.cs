using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Crypto;

/// <summary>
/// Walks one virtio-crypto request chain, which unlike a net chain is both: device-readable descriptors (the request
/// header, IV, source data) and then device-writable ones (destination, digest, status byte). Same guards as the net
/// walker (each descriptor read once, next inside its table, the chain no longer than the table, indirect tables
/// validated and never nested, buffers mapped and split per region), plus the order rule of virtio 2.7.4.2: once a
/// writable descriptor is seen, a readable one ends the walk (SECURITY.md 14). Readable pieces go to one vector,
/// writable pieces to another.
/// </summary>
internal static unsafe class CryptoChainWalker
{
    private const ushort FlagNext = VringDesc.FlagNext, FlagWrite = VringDesc.FlagWrite, FlagIndirect = VringDesc.FlagIndirect;

    public readonly struct Result
    {
        public readonly DropReason Reason;
        public readonly int Readable, Writable;
        public readonly ulong ReadableBytes, WritableBytes;

        public Result(DropReason reason, int readable, int writable, ulong rBytes, ulong wBytes)
        {
            Reason = reason;
            Readable = readable;
            Writable = writable;
            ReadableBytes = rBytes;
            WritableBytes = wBytes;
        }
    }

    public static Result Walk(GuestMemory mem, byte* desc, uint size, ushort head, BufPiece* rVec, int rCap, BufPiece* wVec, int wCap)
    {
        if (head >= size) return Bad(DropReason.DescIndexOutOfRange);
        // SAFETY: head < size: the 16 bytes lie inside the translated descriptor table; each half is read once.
        SplitDescriptor.Read(desc + ((nuint)head << 4), out ulong addr, out ulong meta);
        ushort flags = SplitDescriptor.Flags(meta);
        DescriptorTable table = DescriptorTable.Ring(desc, size);
        GuestMemory tables = mem;
        if ((flags & FlagIndirect) != 0)
        {
            if ((flags & FlagNext) != 0) return Bad(DropReason.IndirectWithNext);
            tables = mem.DescriptorTables;
            DropReason bad = DescriptorTable.OpenIndirect(tables, addr, SplitDescriptor.Len(meta), size, out table);
            if (bad != DropReason.None) return Bad(bad);
            if (!table.TryLoad(tables, 0, out addr, out meta)) return Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }

        int nr = 0, nw = 0;
        ulong rBytes = 0, wBytes = 0;
        uint count = 0;
        while (true)
        {
            if (++count > table.Entries) return Bad(DropReason.ChainTooLong);
            if ((flags & FlagIndirect) != 0) return Bad(DropReason.IndirectNested);
            uint len = SplitDescriptor.Len(meta);
            DropReason r;
            if ((flags & FlagWrite) != 0)
            {
                wBytes += len;
                r = GuestPieces.Add(mem, addr, len, wVec, wCap, ref nw);
            }
            else
            {
                // A readable descriptor after a writable one.
                if (nw != 0 || wBytes != 0) return Bad(DropReason.WrongDirection);
                rBytes += len;
                r = GuestPieces.Add(mem, addr, len, rVec, rCap, ref nr);
            }
            if (r != DropReason.None) return Bad(r);
            if ((flags & FlagNext) == 0) return new Result(DropReason.None, nr, nw, rBytes, wBytes);
            ushort next = SplitDescriptor.Next(meta);
            if (next >= table.Entries) return Bad(DropReason.DescIndexOutOfRange);
            if (!table.TryLoad(tables, next, out addr, out meta)) return Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }
    }

    private static Result Bad(DropReason r) => new(r, 0, 0, 0, 0);

    /// <summary>
    /// Gathers <paramref name="len"/> bytes starting <paramref name="offset"/> bytes into the pieces (the caller has
    /// checked offset + len against their total). Each guest byte is read once, here.
    /// </summary>
    public static void Gather(BufPiece* vec, int n, ulong offset, byte* dst, uint len) => Copy(vec, n, offset, dst, len, Move.FromGuest);

    /// <summary>Scatters <paramref name="len"/> bytes into the pieces from <paramref name="offset"/> on (bounds checked by the caller).</summary>
    public static void Scatter(BufPiece* vec, int n, ulong offset, byte* src, uint len) => Copy(vec, n, offset, src, len, Move.ToGuest);

    /// <summary>Zeroes <paramref name="len"/> bytes of the pieces from <paramref name="offset"/> on.</summary>
    public static void Zero(BufPiece* vec, int n, ulong offset, uint len) => Copy(vec, n, offset, null, len, Move.Zero);

    private enum Move { FromGuest, ToGuest, Zero }

    private static void Copy(BufPiece* vec, int n, ulong offset, byte* host, uint len, Move move)
    {
        for (int i = 0; i < n && len != 0; i++)
        {
            uint plen = vec[i].Len;
            if (offset >= plen)
            {
                offset -= plen;
                continue;
            }
            uint take = (uint)Math.Min(plen - offset, len);
            // SAFETY: the piece [Host, Host+Len) was translated whole; offset + take <= Len.
            byte* guest = vec[i].Host + offset;
            if (move == Move.FromGuest) Buffer.MemoryCopy(guest, host, take, take);
            else if (move == Move.ToGuest) Buffer.MemoryCopy(host, guest, take, take);
            else NativeMemory.Clear(guest, take);
            if (host != null) host += take;
            len -= take;
            offset = 0;
        }
    }
}
