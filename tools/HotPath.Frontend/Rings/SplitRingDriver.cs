using System.Runtime.CompilerServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The driver side of one split virtqueue (what a guest's virtio-net driver does), in memory from a
/// <see cref="FrontendMemory"/>: posts TX packets and RX buffers, publishes the avail index, kicks the device when
/// it asks for it, reaps used entries and returns received packets (joining mergeable buffers). Every descriptor
/// id owns a pre-allocated guest buffer and free ids sit on a stack, so posting and reaping allocate nothing.
/// Raw members (<c>Raw*</c>, in SplitRingDriver.Raw.cs) write arbitrary descriptors and indexes for hostile tests.
/// One thread drives one instance.
/// </summary>
public sealed unsafe partial class SplitRingDriver : IDisposable
{
    private readonly FrontendMemory _mem;
    private readonly VringDesc* _desc;
    private readonly byte* _avail;
    private readonly byte* _used;
    private readonly uint _size;
    private readonly uint _mask;
    private readonly int _hdr;
    private readonly bool _eventIdx;
    private readonly bool _mergeable;
    private readonly int _maxIndirect;
    private readonly ulong _indirectGpa;

    // free descriptor ids (a stack) and the driver's own record of each chain it posted
    private readonly ushort[] _free;
    private int _nFree;
    private readonly ushort[] _next;          // next id in a posted chain (driver-side copy)
    private readonly ushort[] _chainCount;    // descriptors in the ring taken by the chain at a head
    private readonly uint[] _descLen;         // bytes of each descriptor's buffer in its chain
    private readonly ulong[] _descGpa;
    private readonly bool[] _inFlight;
    private readonly bool[] _raw;             // posted through RawPushAvail: no chain of ours to free
    private int _rawOutOfRange;               // raw heads >= size posted and not reaped yet
    private readonly byte[] _rxScratch;
    private int _crossingHead = -1;
    private ushort _lastHead;                 // head of the chain PostChain built last           // head currently using the region-crossing buffer

    private ushort _availShadow;      // next avail index to fill
    private ushort _availPublished;   // value of avail.idx the device sees
    private ushort _lastUsed;

    public SplitDriverOptions Options { get; }
    public RingAreas Areas { get; }
    public DescriptorBuffers Buffers { get; }
    public uint Size => _size;

    /// <summary>Kick eventfd (driver → device); the device side gets a dup through the attach.</summary>
    public int KickFd { get; }
    /// <summary>Call eventfd (device → driver).</summary>
    public int CallFd { get; }
    /// <summary>Kicks written so far.</summary>
    public long Kicks { get; private set; }

    public SplitRingDriver(FrontendMemory mem, SplitDriverOptions? options = null)
    {
        Options = options ?? new SplitDriverOptions();
        _mem = mem;
        _size = Options.Size;
        _mask = _size - 1;
        _hdr = Options.HeaderSize;
        _eventIdx = Options.EventIdx;
        _mergeable = Options.Mergeable;
        _maxIndirect = Options.MaxIndirect;
        Areas = RingAreas.AllocateSplit(mem, _size, Options.Region);
        Buffers = new DescriptorBuffers(mem, _size, Options.BufferSize, Options.Region, Options.CrossingBuffer);
        if (_maxIndirect > 0) _indirectGpa = mem.Alloc(_size * (ulong)_maxIndirect * 16, 16, Options.Region);
        _desc = (VringDesc*)mem.Host(Areas.DescGpa);
        _avail = mem.Host(Areas.DriverAreaGpa);
        _used = mem.Host(Areas.DeviceAreaGpa);
        _free = new ushort[_size];
        for (uint i = 0; i < _size; i++) _free[i] = (ushort)(_size - 1 - i);
        _nFree = (int)_size;
        _next = new ushort[_size];
        _chainCount = new ushort[_size];
        _descLen = new uint[_size];
        _descGpa = new ulong[_size];
        _inFlight = new bool[_size];
        _raw = new bool[_size];
        _rxScratch = new byte[Math.Max(Options.BufferSize * (ulong)_size, 65536 + 64)];
        KickFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        CallFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (KickFd < 0 || CallFd < 0) throw new IOException($"eventfd failed: {LibC.StrError(LibC.Errno)}");
    }

    public int FreeDescriptors => _nFree;
    public int HeaderSize => _hdr;

    /// <summary>Avail entries posted (published or not) whose used entries have not been reaped.</summary>
    public int InFlight => (ushort)(_availShadow - _lastUsed);

    // ------------------------------------------------------------------ TX

    /// <summary>
    /// Posts one TX packet (header then data) laid out as <paramref name="shape"/> says, without publishing it.
    /// Returns false when there are not enough free descriptors (or the crossing buffer is in use).
    /// </summary>
    public bool PostTx(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, TxShape shape = default)
    {
        if (header.Length != _hdr) throw new ArgumentException($"header must be {_hdr} bytes", nameof(header));
        if (shape.CrossRegion) return PostCrossing(header, data, 0);
        int parts = shape.Descriptors;
        int dataDescs = Math.Max(1, shape.DataDescriptors);
        int chunk = (data.Length + dataDescs - 1) / dataDescs;
        Span<uint> lens = stackalloc uint[parts];
        int left = data.Length;
        for (int p = 0; p < parts; p++)
        {
            bool headerHere = p == 0;
            bool dataHere = !(shape.SeparateHeader && p == 0);
            int n = dataHere ? Math.Min(chunk, left) : 0;
            left -= n;
            lens[p] = (uint)((headerHere ? _hdr : 0) + n);
        }
        if (!PostChain(lens, shape.Indirect, writable: false)) return false;
        // Fill the buffers the chain just took, in chain order: header first, then the data.
        ushort id = _lastHead;
        int off = 0;
        for (int p = 0; p < parts; p++, id = _next[id])
        {
            byte* b = Buffers.Host(id);
            int at = 0;
            if (p == 0)
            {
                header.CopyTo(new Span<byte>(b, _hdr));
                at = _hdr;
            }
            int n = (int)lens[p] - at;
            data.Slice(off, n).CopyTo(new Span<byte>(b + at, n));
            off += n;
        }
        return true;
    }

    /// <summary>
    /// Takes one descriptor id per entry of <paramref name="lens"/> (each with its own buffer), links them, and
    /// writes them into the descriptor table, or into the head's indirect table with one INDIRECT descriptor in the
    /// ring. Records the chain and fills the next avail slot. False when out of descriptors.
    /// </summary>
    private bool PostChain(ReadOnlySpan<uint> lens, bool indirect, bool writable)
    {
        int parts = lens.Length;
        if (indirect && parts > _maxIndirect) throw new ArgumentException("more entries than the indirect tables hold");
        foreach (uint l in lens)
            if (l > Buffers.BufferSize) throw new ArgumentException($"{l} bytes do not fit a {Buffers.BufferSize}-byte descriptor buffer");
        if (_nFree < parts) return false;
        ushort write = writable ? VringDesc.FlagWrite : (ushort)0;
        ushort head = Pop(), id = head;
        var table = indirect ? (VringDesc*)_mem.Host(IndirectGpa(head)) : null;
        for (int p = 0; p < parts; p++)
        {
            ushort next = p + 1 < parts ? Pop() : (ushort)0;
            _next[id] = next;
            _descGpa[id] = Buffers.Gpa(id);
            _descLen[id] = lens[p];
            ushort flags = (ushort)(write | (p + 1 < parts ? VringDesc.FlagNext : 0));
            if (indirect) table[p] = new VringDesc { Addr = _descGpa[id], Len = lens[p], Flags = flags, Next = (ushort)(p + 1) };
            else SetDesc(id, _descGpa[id], lens[p], flags, next);
            id = next;
        }
        if (indirect) SetDesc(head, IndirectGpa(head), (uint)(parts * 16), VringDesc.FlagIndirect, 0);
        _lastHead = head;
        Track(head, (ushort)parts);
        return true;
    }

    /// <summary>Reaps TX completions; returns how many used entries were consumed.</summary>
    public int ReapTx(int max = int.MaxValue)
    {
        int n = 0;
        // Acquire: the used elements the device wrote before publishing this index are read after it.
        ushort usedIdx = Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset));
        while (n < max && _lastUsed != usedIdx)
        {
            VringUsedElem e = ReadUsed(_lastUsed);
            Complete(e.Id);
            _lastUsed++;
            n++;
        }
        return n;
    }

    // ------------------------------------------------------------------ RX

    /// <summary>
    /// Posts one writable RX chain of <paramref name="len"/> bytes over <paramref name="descriptors"/> descriptors
    /// (direct, or inside an indirect table), without publishing it. False when out of descriptors.
    /// </summary>
    public bool PostRx(uint len, int descriptors = 1, bool indirect = false, bool crossRegion = false)
    {
        if (crossRegion) return PostCrossing(default, default, len);
        if (descriptors < 1) throw new ArgumentOutOfRangeException(nameof(descriptors));
        uint chunk = (uint)((len + descriptors - 1) / descriptors);
        Span<uint> lens = stackalloc uint[descriptors];
        uint left = len;
        for (int p = 0; p < descriptors; p++)
        {
            lens[p] = Math.Min(chunk, left);
            left -= lens[p];
        }
        return PostChain(lens, indirect, writable: true);
    }

    /// <summary>Posts as many RX chains of <paramref name="len"/> bytes as descriptors allow; returns how many.</summary>
    public int FillRx(uint len, int descriptors = 1, bool indirect = false)
    {
        int n = 0;
        while (PostRx(len, descriptors, indirect)) n++;
        return n;
    }

    /// <summary>
    /// Takes the next received packet: copies its data (after the virtio-net header) into <paramref name="dst"/> and
    /// returns its header and lengths. With MRG_RXBUF the packet's num_buffers used entries are joined. A chain the
    /// device returned empty (a dropped chain) comes back with <see cref="RxInfo.UsedLen"/> 0. False when nothing is
    /// waiting, or a mergeable packet's buffers are not all published yet.
    /// </summary>
    public bool TryReceive(Span<byte> dst, out RxInfo info)
    {
        info = default;
        // Acquire: used elements and the packet bytes the device wrote before this index are read after it.
        ushort usedIdx = Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset));
        if (_lastUsed == usedIdx) return false;
        VringUsedElem first = ReadUsed(_lastUsed);
        if (first.Len == 0)
        {
            Complete(first.Id);
            _lastUsed++;
            info = new RxInfo(0, default, 0, 1);
            return true;
        }
        int got = GatherChain(first, 0);
        if (got < _hdr) throw new InvalidDataException($"used length {first.Len} is shorter than the net header");
        VirtioNetHeader hdr = Unsafe.ReadUnaligned<VirtioNetHeader>(ref _rxScratch[0]);
        if (_hdr == VirtioNetHeader.LegacySize) hdr.NumBuffers = 0;
        int buffers = 1;
        if (_mergeable)
        {
            buffers = hdr.NumBuffers;
            if (buffers < 1) throw new InvalidDataException("num_buffers is 0");
            if ((ushort)(usedIdx - _lastUsed) < buffers) return false;
        }
        uint usedTotal = first.Len;
        for (int b = 1; b < buffers; b++)
        {
            VringUsedElem e = ReadUsed((ushort)(_lastUsed + b));
            got += GatherChain(e, got);
            usedTotal += e.Len;
        }
        int dataLen = got - _hdr;
        if (dataLen > dst.Length) throw new ArgumentException("destination too small for the received packet", nameof(dst));
        _rxScratch.AsSpan(_hdr, dataLen).CopyTo(dst);
        for (int b = 0; b < buffers; b++)
        {
            Complete(ReadUsed(_lastUsed).Id);
            _lastUsed++;
        }
        info = new RxInfo(dataLen, hdr, usedTotal, buffers);
        return true;
    }

    /// <summary>Copies the first e.Len bytes of the chain at e.Id into the scratch at <paramref name="at"/>.</summary>
    private int GatherChain(VringUsedElem e, int at)
    {
        if (e.Id >= _size || !_inFlight[e.Id] || _raw[e.Id])
            throw new InvalidDataException($"used id {e.Id} is not a chain this driver posted");
        uint left = e.Len;
        if (left > ChainBytes((ushort)e.Id)) throw new InvalidDataException($"used length {e.Len} exceeds chain {e.Id}'s buffers");
        ushort id = (ushort)e.Id;
        for (int i = 0; i < _chainCount[e.Id] && left > 0; i++)
        {
            uint n = Math.Min(left, _descLen[id]);
            Buffers.Read(_descGpa[id], _rxScratch.AsSpan(at, (int)n));
            at += (int)n;
            left -= n;
            id = _next[id];
        }
        return (int)e.Len;
    }

    private uint ChainBytes(ushort head)
    {
        uint sum = 0;
        ushort id = head;
        for (int i = 0; i < _chainCount[head]; i++, id = _next[id]) sum += _descLen[id];
        return sum;
    }

    // ------------------------------------------------------------------ publish, kick, interrupts

    /// <summary>
    /// Makes every posted entry visible to the device (release store of avail.idx), then kicks the kick eventfd when
    /// the device asks for it. Returns true when it kicked.
    /// </summary>
    public bool Publish()
    {
        ushort old = _availPublished;
        ushort now = _availShadow;
        if (old == now) return false;
        // Release: descriptors and avail ring entries written above are visible before the index that exposes them.
        Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset), now);
        _availPublished = now;
        return KickIfNeeded(old, now);
    }

    private bool KickIfNeeded(ushort old, ushort now)
    {
        // Full fence: the avail.idx store must be visible before we read the device's suppression fields, or the
        // device could go to sleep on the old index while we read its stale "no notify" setting (virtio_mb).
        Interlocked.MemoryBarrier();
        bool kick;
        if (_eventIdx)
        {
            ushort availEvent = Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.AvailEventOffset(_size)));
            kick = SplitRingLayout.NeedEvent(availEvent, now, old);
        }
        else
        {
            ushort flags = Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedFlagsOffset));
            kick = (flags & SplitRingLayout.UsedFlagNoNotify) == 0;
        }
        if (!kick) return false;
        LibC.EventFdSignal(KickFd);
        Kicks++;
        return true;
    }

    /// <summary>VRING_AVAIL_F_NO_INTERRUPT (meaningful without EVENT_IDX).</summary>
    public bool NoInterrupt
    {
        get => (*(ushort*)(_avail + SplitRingLayout.AvailFlagsOffset) & SplitRingLayout.AvailFlagNoInterrupt) != 0;
        set => Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailFlagsOffset), value ? SplitRingLayout.AvailFlagNoInterrupt : (ushort)0);
    }

    /// <summary>EVENT_IDX used_event: the device interrupts once the used index passes this value.</summary>
    public ushort UsedEvent
    {
        get => *(ushort*)(_avail + SplitRingLayout.UsedEventOffset(_size));
        set => Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.UsedEventOffset(_size)), value);
    }

    /// <summary>Asks for an interrupt at the next used entry (EVENT_IDX: used_event = next used; otherwise clears NO_INTERRUPT).</summary>
    public void EnableInterrupts()
    {
        if (_eventIdx) UsedEvent = _lastUsed;
        else NoInterrupt = false;
    }

    /// <summary>Reads and clears the call eventfd: the number of notifications since the last drain.</summary>
    public ulong DrainCalls() => LibC.EventFdDrain(CallFd);

    // ------------------------------------------------------------------ internals

    private ushort Pop() => _free[--_nFree];

    private void Push(ushort id) => _free[_nFree++] = id;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetDesc(ushort id, ulong addr, uint len, ushort flags, ushort next)
    {
        VringDesc* d = _desc + id;
        d->Addr = addr;
        d->Len = len;
        d->Flags = flags;
        d->Next = next;
    }

    /// <summary>Records a posted chain and writes its head into the next avail slot (not yet published).</summary>
    private void Track(ushort head, ushort count)
    {
        _chainCount[head] = count;
        _inFlight[head] = true;
        _raw[head] = false;
        *(ushort*)(_avail + SplitRingLayout.AvailRingOffset + 2 * (_availShadow & _mask)) = head;
        _availShadow++;
    }

    private VringUsedElem ReadUsed(ushort idx) =>
        *(VringUsedElem*)(_used + SplitRingLayout.UsedRingOffset + 8 * (idx & _mask));

    /// <summary>A used entry came back for <paramref name="id"/>: free its chain (or forget a raw head).</summary>
    private void Complete(uint id)
    {
        if (id >= _size)
        {
            if (_rawOutOfRange == 0) throw new InvalidDataException($"used id {id} is out of range");
            _rawOutOfRange--;
            return;
        }
        if (!_inFlight[id]) throw new InvalidDataException($"used id {id} was not in flight (duplicate used entry?)");
        _inFlight[id] = false;
        if (_raw[id])
        {
            _raw[id] = false;
            return;
        }
        if (id == _crossingHead) _crossingHead = -1;
        ushort cur = (ushort)id;
        for (int i = 0; i < _chainCount[id]; i++)
        {
            ushort nx = _next[cur];
            Push(cur);
            cur = nx;
        }
    }

    private ulong IndirectGpa(ushort head) => _indirectGpa + (ulong)head * (ulong)_maxIndirect * 16;

    public void Dispose()
    {
        LibC.close(KickFd);
        LibC.close(CallFd);
    }
}

/// <summary>One received packet: data length (after the header), its header, the summed used lengths and the
/// number of used entries it took.</summary>
public readonly record struct RxInfo(int Length, VirtioNetHeader Header, uint UsedLen, int Buffers);
