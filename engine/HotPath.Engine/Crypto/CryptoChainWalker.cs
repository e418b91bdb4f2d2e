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
/// writable pieces to another, as many as they hold: the rest of the chain is walked and checked but not stored,
/// because a chain may carry more buffer than its request uses (a Linux 6.1 guest's 64 KiB AF_ALG request came as 138
/// readable and 154 writable descriptors, 0.5 MiB each way) and its status byte is its last writable byte, wherever
/// that is.
/// </summary>
internal static unsafe class CryptoChainWalker
{
    private const ushort FlagNext = VringDesc.FlagNext, FlagWrite = VringDesc.FlagWrite, FlagIndirect = VringDesc.FlagIndirect;

    public readonly struct Result
    {
        public readonly DropReason Reason;
        /// <summary>Pieces stored in each vector.</summary>
        public readonly int Readable, Writable;
        /// <summary>Bytes of each part of the whole chain.</summary>
        public readonly ulong ReadableBytes, WritableBytes;
        /// <summary>Bytes the stored pieces hold: the first ones of each part (all of it unless the vector filled).</summary>
        public readonly ulong ReadableHeld, WritableHeld;
        /// <summary>The chain's last writable byte (the status), or null when the chain has no writable byte.</summary>
        public readonly byte* Last;
        /// <summary>Its guest physical address (for dirty logging).</summary>
        public readonly ulong LastGpa;

        public Result(DropReason reason, int readable, int writable, ulong rBytes, ulong wBytes, ulong rHeld, ulong wHeld, byte* last,
            ulong lastGpa)
        {
            Reason = reason;
            Readable = readable;
            Writable = writable;
            ReadableBytes = rBytes;
            WritableBytes = wBytes;
            ReadableHeld = rHeld;
            WritableHeld = wHeld;
            Last = last;
            LastGpa = lastGpa;
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
            uint tableLen = SplitDescriptor.Len(meta);
            DropReason bad = DescriptorTable.OpenIndirect(tables, addr, tableLen, size, out table);
            if (bad == DropReason.IndirectTooLarge)
            {
                byte* status = LastEntryStatus(mem, tables, addr, tableLen, out ulong statusGpa);
                return new Result(bad, 0, 0, 0, 0, 0, 0, status, statusGpa);
            }
            if (bad != DropReason.None) return Bad(bad);
            if (!table.TryLoad(tables, 0, out addr, out meta)) return Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }

        int nr = 0, nw = 0;
        ulong rBytes = 0, wBytes = 0, rHeld = 0, wHeld = 0;
        bool rFull = false, wFull = false;
        byte* last = null, ignored = null;
        ulong lastGpa = 0;
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
                r = Take(mem, addr, len, wVec, wCap, ref nw, ref wHeld, ref wFull, ref last);
                if (len != 0) lastGpa = addr + (len - 1);   // Take checked the range does not wrap
            }
            else
            {
                // A readable descriptor after a writable one.
                if (nw != 0 || wBytes != 0) return Bad(DropReason.WrongDirection);
                rBytes += len;
                r = Take(mem, addr, len, rVec, rCap, ref nr, ref rHeld, ref rFull, ref ignored);
            }
            if (r != DropReason.None) return Bad(r);
            if ((flags & FlagNext) == 0) return new Result(DropReason.None, nr, nw, rBytes, wBytes, rHeld, wHeld, last, lastGpa);
            ushort next = SplitDescriptor.Next(meta);
            if (next >= table.Entries) return Bad(DropReason.DescIndexOutOfRange);
            if (!table.TryLoad(tables, next, out addr, out meta)) return Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }
    }

    private static Result Bad(DropReason r) => new(r, 0, 0, 0, 0, 0, 0, null, 0);

    /// <summary>
    /// Where a refused indirect table with more entries than the ring (SECURITY.md 12) ends: Linux builds one for a
    /// request that large (a 6.1 guest's 128 KiB AF_ALG request) and lays its chain out in table order, status last.
    /// When the table's last entry is a writable end of chain, its last byte is where the refusal goes, so the guest
    /// reads an error rather than whatever its status byte held. The table is not walked; only that one entry is
    /// read, and the device writes one byte into a buffer the guest marked writable. Null otherwise.
    /// </summary>
    private static byte* LastEntryStatus(GuestMemory mem, GuestMemory tables, ulong gpa, uint len, out ulong statusGpa)
    {
        statusGpa = 0;
        ulong at = gpa + (len - 16UL);   // OpenIndirect checked len: a non-empty multiple of 16
        if (at < gpa) return null;     // wraps around u64
        byte* e = tables.GpaToHostExact(at, 16);
        if (e == null) return null;
        // SAFETY: the 16 bytes at e were translated whole; read once.
        SplitDescriptor.Read(e, out ulong addr, out ulong meta);
        uint blen = SplitDescriptor.Len(meta);
        if ((SplitDescriptor.Flags(meta) & (FlagWrite | FlagNext | FlagIndirect)) != FlagWrite || blen == 0) return null;
        if (GuestPieces.Check(mem, addr, blen, out byte* last) != DropReason.None) return null;
        statusGpa = addr + (blen - 1);
        return last;
    }

    /// <summary>
    /// Stores the pieces of one buffer while the vector has room (<paramref name="held"/> counts their bytes); once it
    /// is full, the buffer is only checked to be mapped. <paramref name="last"/> becomes the buffer's last byte.
    /// </summary>
    private static DropReason Take(GuestMemory mem, ulong addr, uint len, BufPiece* vec, int cap, ref int n, ref ulong held,
        ref bool full, ref byte* last)
    {
        if (len == 0) return DropReason.None;
        if (!full)
        {
            int before = n;
            DropReason r = GuestPieces.Add(mem, addr, len, vec, cap, ref n);
            if (r == DropReason.None)
            {
                held += len;
                // SAFETY: the piece just stored is translated whole and not empty.
                last = vec[n - 1].Host + vec[n - 1].Len - 1;
                return DropReason.None;
            }
            if (r != DropReason.TooManySegments) return r;
            // The pieces stored before the vector filled are still the part's first bytes, in order.
            for (int i = before; i < n; i++) held += vec[i].Len;
            full = true;
        }
        return GuestPieces.Check(mem, addr, len, out last);
    }

    /// <summary>
    /// Gathers <paramref name="len"/> bytes starting <paramref name="offset"/> bytes into the pieces (the caller has
    /// checked offset + len against their total). Each guest byte is read once, here.
    /// </summary>
    public static void Gather(BufPiece* vec, int n, ulong offset, byte* dst, uint len) => Copy(vec, n, offset, dst, len, Move.FromGuest);

    /// <summary>
    /// The host address of <paramref name="len"/> (&gt; 0) bytes from <paramref name="offset"/> on when they lie in one
    /// run of host memory (one piece, or pieces that follow each other in the host's address space); null otherwise.
    /// The caller has checked offset + len against the pieces' total.
    /// </summary>
    public static byte* Run(BufPiece* vec, int n, ulong offset, uint len)
    {
        int i = 0;
        for (; i < n && offset >= vec[i].Len; i++) offset -= vec[i].Len;
        if (i == n) return null;
        // SAFETY: offset < vec[i].Len: inside the piece, translated whole.
        byte* start = vec[i].Host + offset, end = vec[i].Host + vec[i].Len;
        while ((ulong)(end - start) < len)
        {
            if (++i == n || vec[i].Host != end) return null;
            end += vec[i].Len;
        }
        return start;
    }

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
