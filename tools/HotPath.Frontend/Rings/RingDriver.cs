using System.Runtime.CompilerServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// What the split and packed ring drivers share: options, guest buffers and the chain bookkeeping
/// (<see cref="ChainBuffers"/>), eventfds, and everything that does not depend on the ring layout: cutting TX
/// packets and RX buffers into descriptors, reaping, and receiving packets (joining mergeable buffers). A ring type
/// supplies how a chain is written into its ring, how the k-th used entry is found and consumed, publishing, and
/// interrupt control.
/// </summary>
public abstract unsafe class RingDriver : IRingDriver
{
    protected readonly FrontendMemory Mem;
    protected readonly uint RingSize;
    protected readonly ChainBuffers Chains;
    /// <summary>Per id: a used entry for it is expected; posted raw (nothing of ours to free).</summary>
    protected readonly bool[] InFlightIds, RawIds;
    protected readonly bool EventIdx;
    private readonly int _hdr;
    private readonly bool _mergeable;
    private readonly int _maxIndirect;
    private readonly ulong _indirectGpa;
    private readonly byte[] _rxHeader = new byte[64];   // a received packet's net header (num_buffers)
    private int _crossingId = -1;   // id currently using the region-crossing buffer
    private ushort _lastHead;       // id of the chain posted last

    public RingDriverOptions Options { get; }
    public RingAreas Areas { get; }
    public DescriptorBuffers Buffers { get; }
    public uint Size => RingSize;
    public int HeaderSize => _hdr;
    public int KickFd { get; }
    public int CallFd { get; }
    public long Kicks { get; private set; }

    protected RingDriver(FrontendMemory mem, RingDriverOptions? options, Func<FrontendMemory, RingDriverOptions, RingAreas> allocate)
    {
        Options = options ?? new RingDriverOptions();
        Mem = mem;
        RingSize = Options.Size;
        _hdr = Options.HeaderSize;
        EventIdx = Options.EventIdx;
        _mergeable = Options.Mergeable;
        _maxIndirect = Options.MaxIndirect;
        Areas = allocate(mem, Options);
        Buffers = new DescriptorBuffers(mem, RingSize, Options.BufferSize, Options.Region, Options.CrossingBuffer);
        Chains = new ChainBuffers(Buffers);
        if (_maxIndirect > 0) _indirectGpa = mem.Alloc(RingSize * (ulong)_maxIndirect * 16, 16, Options.Region);
        InFlightIds = new bool[RingSize];
        RawIds = new bool[RingSize];
        KickFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        CallFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (KickFd < 0 || CallFd < 0) throw new IOException($"eventfd failed: {LibC.StrError(LibC.Errno)}");
    }

    public abstract int FreeDescriptors { get; }
    public abstract int InFlight { get; }

    /// <summary>Id of the chain PostTx/PostRx posted last (split: its head descriptor; packed: its buffer id).</summary>
    public ushort LastPostedHead => _lastHead;

    // ------------------------------------------------------------------ what a ring type supplies

    /// <summary>Room in the ring for a chain of <paramref name="descriptors"/> ring descriptors (besides the buffers).</summary>
    protected abstract bool HasRingRoom(int descriptors);

    /// <summary>
    /// Writes the chain whose buffers <see cref="ChainBuffers.Take"/> just linked at <paramref name="head"/> into the
    /// ring (or into the head's indirect table, <see cref="IndirectGpa"/>, behind one ring descriptor) and records it;
    /// not yet published.
    /// </summary>
    protected abstract void WriteChain(ushort head, ReadOnlySpan<uint> lens, bool indirect, bool writable);

    /// <summary>The <paramref name="k"/>-th used entry not reaped yet (0: the next one), if the device published it.</summary>
    protected abstract bool TryPeekUsed(int k, out uint id, out uint len);

    /// <summary>Reaps the next used entry: frees its chain (<see cref="ReleaseChain"/>) and moves past it.</summary>
    protected abstract void ConsumeUsed();

    public abstract bool Publish();
    public abstract void EnableInterrupts();
    public abstract void DisableInterrupts();

    // ------------------------------------------------------------------ TX

    public bool PostTx(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, TxShape shape = default)
    {
        if (header.Length != _hdr) throw new ArgumentException($"header must be {_hdr} bytes", nameof(header));
        if (shape.CrossRegion) return PostCrossing(header, data, 0);
        Span<uint> lens = stackalloc uint[shape.Descriptors];
        ChainLayout.Tx(shape, _hdr, data.Length, lens);
        if (!PostChain(lens, shape.Indirect, writable: false)) return false;
        Chains.FillTx(_lastHead, header, data);
        return true;
    }

    public int ReapTx(int max = int.MaxValue)
    {
        int n = 0;
        while (n < max && TryPeekUsed(0, out _, out _))
        {
            ConsumeUsed();
            n++;
        }
        return n;
    }

    // ------------------------------------------------------------------ RX

    public bool PostRx(uint len, int descriptors = 1, bool indirect = false, bool crossRegion = false)
    {
        if (crossRegion) return PostCrossing(default, default, len);
        if (descriptors < 1) throw new ArgumentOutOfRangeException(nameof(descriptors));
        Span<uint> lens = stackalloc uint[descriptors];
        ChainLayout.Rx(len, lens);
        return PostChain(lens, indirect, writable: true);
    }

    public int FillRx(uint len, int descriptors = 1, bool indirect = false)
    {
        int n = 0;
        while (PostRx(len, descriptors, indirect)) n++;
        return n;
    }

    public bool TryReceive(Span<byte> dst, out RxInfo info)
    {
        info = default;
        if (!TryPeekUsed(0, out uint firstId, out uint firstLen)) return false;
        if (firstLen == 0)
        {
            ConsumeUsed();
            info = new RxInfo(0, default, 0, 1);
            return true;
        }
        CheckUsed(firstId, firstLen);
        if (firstLen < _hdr) throw new InvalidDataException($"used length {firstLen} is shorter than the net header");
        // The header alone first (num_buffers says how many used entries the packet has), then the data straight
        // into dst: one copy per byte (a copy through a scratch buffer first cost a second pass over every packet).
        Chains.Gather((ushort)firstId, (uint)_hdr, _rxHeader);
        VirtioNetHeader hdr = Unsafe.ReadUnaligned<VirtioNetHeader>(ref _rxHeader[0]);
        if (_hdr == VirtioNetHeader.LegacySize) hdr.NumBuffers = 0;
        int buffers = 1;
        if (_mergeable)
        {
            buffers = hdr.NumBuffers;
            if (buffers < 1) throw new InvalidDataException("num_buffers is 0");
        }
        // All of a mergeable packet's used entries must be published before any is consumed.
        uint usedTotal = firstLen;
        for (int b = 1; b < buffers; b++)
        {
            if (!TryPeekUsed(b, out uint id, out uint len)) return false;
            CheckUsed(id, len);
            usedTotal += len;
        }
        int dataLen = (int)(usedTotal - (uint)_hdr);
        if (dataLen > dst.Length) throw new ArgumentException("destination too small for the received packet", nameof(dst));
        Chains.Gather((ushort)firstId, (uint)_hdr, firstLen - (uint)_hdr, dst);
        int at = (int)firstLen - _hdr;
        for (int b = 1; b < buffers; b++)
        {
            TryPeekUsed(b, out uint id, out uint len);
            Chains.Gather((ushort)id, len, dst[at..]);
            at += (int)len;
        }
        for (int b = 0; b < buffers; b++) ConsumeUsed();
        info = new RxInfo(dataLen, hdr, usedTotal, buffers);
        return true;
    }

    /// <summary>Throws unless <paramref name="id"/> is a chain this driver posted whose buffers hold <paramref name="len"/> bytes.</summary>
    private void CheckUsed(uint id, uint len)
    {
        if (id >= RingSize || !InFlightIds[id] || RawIds[id])
            throw new InvalidDataException($"used id {id} is not a chain this driver posted");
        if (len > Chains.Bytes((ushort)id)) throw new InvalidDataException($"used length {len} exceeds chain {id}'s buffers");
    }

    public ulong DrainCalls() => LibC.EventFdDrain(CallFd);

    // ------------------------------------------------------------------ for the ring types

    /// <summary>
    /// Takes one buffer per entry of <paramref name="lens"/>, links them and has the ring type write the chain.
    /// False when out of buffers or ring room.
    /// </summary>
    private bool PostChain(ReadOnlySpan<uint> lens, bool indirect, bool writable)
    {
        int parts = lens.Length;
        if (indirect && parts > _maxIndirect) throw new ArgumentException("more entries than the indirect tables hold");
        if (Chains.Free < parts || !HasRingRoom(indirect ? 1 : parts)) return false;
        ushort head = Chains.Take(lens);
        WriteChain(head, lens, indirect, writable);
        _lastHead = head;
        return true;
    }

    /// <summary>
    /// One chain of a single descriptor whose buffer crosses a region boundary: a TX packet (header + data) when
    /// <paramref name="rxLen"/> is 0, otherwise a writable RX buffer of that many bytes.
    /// </summary>
    private bool PostCrossing(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, uint rxLen)
    {
        if (Buffers.CrossingGpa == 0) throw new InvalidOperationException("driver built without CrossingBuffer");
        if (_crossingId >= 0 || Chains.Free < 1 || !HasRingRoom(1)) return false;
        uint len = rxLen != 0 ? rxLen : (uint)(header.Length + data.Length);
        if (len > Buffers.BufferSize) throw new ArgumentException("larger than the crossing buffer");
        ushort id = Chains.Pop();
        Chains.SetSingle(id, Buffers.CrossingGpa, len);
        if (rxLen == 0) Chains.FillTx(id, header, data);
        Span<uint> lens = stackalloc uint[] { len };
        WriteChain(id, lens, indirect: false, writable: rxLen != 0);
        _crossingId = id;
        _lastHead = id;
        return true;
    }

    /// <summary>A used entry came back for <paramref name="id"/> (below the ring size): free its chain, or forget a raw one.</summary>
    protected void ReleaseChain(uint id)
    {
        if (!InFlightIds[id]) throw new InvalidDataException($"used id {id} was not in flight (duplicate used entry?)");
        InFlightIds[id] = false;
        if (RawIds[id])
        {
            RawIds[id] = false;
            return;
        }
        if (id == _crossingId) _crossingId = -1;
        Chains.Release((ushort)id);
    }

    /// <summary>Forgets every chain in flight (their buffers go back to the free list).</summary>
    protected void ForgetAll()
    {
        for (uint id = 0; id < RingSize; id++)
            if (InFlightIds[id]) ReleaseChain(id);
        _crossingId = -1;
    }

    /// <summary>Counts a kick and writes the kick eventfd.</summary>
    protected void Kick()
    {
        LibC.EventFdSignal(KickFd);
        Kicks++;
    }

    /// <summary>Where the indirect tables of every buffer id lie: one area (Bytes 0 without indirect tables).</summary>
    public (ulong Gpa, ulong Bytes) IndirectArea => (_indirectGpa, _maxIndirect > 0 ? RingSize * (ulong)_maxIndirect * 16 : 0);

    /// <summary>Guest address of the indirect table owned by <paramref name="head"/>.</summary>
    protected ulong IndirectGpa(ushort head) => _indirectGpa + (ulong)head * (ulong)_maxIndirect * 16;

    /// <summary>The address the device is given for guest address <paramref name="gpa"/> (<see cref="RingDriverOptions.IovaOffset"/>).</summary>
    protected ulong Dma(ulong gpa) => gpa + Options.IovaOffset;

    /// <summary>Entries an indirect table may hold.</summary>
    protected int MaxIndirect => _maxIndirect;

    public void Dispose()
    {
        LibC.close(KickFd);
        LibC.close(CallFd);
    }
}
