using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// The async state of one vring with a registered channel (see README.md; RX: enqueue, TX: dequeue): the packets
/// submitted and not polled back yet (<see cref="AsyncSlot"/>s, in submit order), their copy segments, the used entries waiting for copies,
/// and the channel. Only the holder of the vring's access lock touches it (the application inside a submit or
/// poll, the control plane while it settles). Its arrays are one native block, sized at registration.
/// <para>Cursors are free-running: ReturnHead &lt;= PublishHead &lt;= HandHead &lt;= SlotTail over slots,
/// SegHead &lt;= SegTail over the segment arena, UsedHead &lt;= UsedTail over the pending used ring.</para>
/// </summary>
internal sealed unsafe partial class AsyncQueue : NativeScratch
{
    /// <summary>Packets from submit until the application polls them back.</summary>
    public const uint SlotCapacity = 1024;
    /// <summary>Copy segments of the packets in flight (a packet's are contiguous: the arena's tail is skipped when short).</summary>
    public const uint SegCapacity = 8192;
    /// <summary>Segments one packet may have in the arena; the rest of a longer packet is copied by the CPU.</summary>
    public const uint MaxPacketSegs = 256;

    public readonly VhostDevice Device;
    public readonly Vring Vring;
    public readonly int QueueId;
    public readonly IAsyncCopyChannel Channel;
    /// <summary><see cref="Channel"/> when it is the built-in engine's: called directly, and polled without a call
    /// while nothing completed (<see cref="CopyEngineChannel.HasCompletions"/>).</summary>
    private readonly CopyEngineChannel? _engine;
    /// <summary>The channel was made for this queue (the C API's built-in engine channels): disposed with it.</summary>
    public readonly bool OwnsChannel;
    public readonly AsyncFeatures Features;
    /// <summary>Entries of the pending used ring: the largest split ring (a ring resized after registration still fits).</summary>
    public readonly uint UsedCapacity;

    private readonly AsyncSlot* _slots;
    private readonly Mbuf** _mbufs;          // each slot's packet, apart: handed back (and a run committed) as one copy
    private readonly AsyncIovIter* _iters;   // two per slot: src, dst
    private readonly AsyncDesc* _descs;      // staging of one transfer_data call (filled as packets commit)
    private readonly nuint* _tokens;         // staging: tokens in (transfer: each staged packet's slot) and out (completions)
    private uint _staged;                    // packets in _descs since the last transfer_data
    private readonly IoVec* _srcIov, _dstIov;
    private readonly ulong* _segGpa;         // guest address of each segment's destination (dirty log)
    private readonly VringUsedElem* _used;

    public uint SlotTail, HandHead, PublishHead, ReturnHead;
    public uint SegTail, SegHead;
    public uint UsedTail, UsedHead;
    /// <summary>Packets the channel holds (handed over, not reported complete).</summary>
    public uint InChannel;
    /// <summary>In-order channels, free-running: packets handed over (or staged for the next handing over), and
    /// packets the channel reported complete. A slot is done when <see cref="_completed"/> reached its
    /// <see cref="AsyncSlot.Ticket"/>: a completion is one addition, not a walk over the slots.</summary>
    private uint _issued, _completed;

    /// <summary>Completions an out-of-order channel reported with a token that names no packet it holds (ignored).</summary>
    public ulong BadCompletions;
    /// <summary>Packets the channel did not accept, copied by the CPU instead.</summary>
    public ulong CpuFallbacks;

    public AsyncQueue(VhostDevice device, Vring vring, int queueId, AsyncFeatures features, IAsyncCopyChannel channel,
        bool ownsChannel)
    {
        OwnsChannel = ownsChannel;
        Device = device;
        Vring = vring;
        QueueId = queueId;
        Features = features;
        Channel = channel;
        _engine = channel as CopyEngineChannel;
        UsedCapacity = SplitRingLayout.MaxSize;
        nuint slots = Align(SlotCapacity * (nuint)sizeof(AsyncSlot));
        nuint mbufs = Align(SlotCapacity * (nuint)sizeof(Mbuf*));
        nuint iters = Align(2 * SlotCapacity * (nuint)sizeof(AsyncIovIter));
        nuint descs = Align(SlotCapacity * (nuint)sizeof(AsyncDesc));
        nuint tokens = Align(SlotCapacity * (nuint)sizeof(nuint));
        nuint iov = Align(SegCapacity * (nuint)sizeof(IoVec));
        nuint gpa = Align(SegCapacity * sizeof(ulong));
        nuint used = Align(UsedCapacity * (nuint)sizeof(VringUsedElem));
        byte* p = Allocate(slots + mbufs + iters + descs + tokens + 2 * iov + gpa + used);
        _slots = (AsyncSlot*)p; p += slots;
        _mbufs = (Mbuf**)p; p += mbufs;
        _iters = (AsyncIovIter*)p; p += iters;
        _descs = (AsyncDesc*)p; p += descs;
        _tokens = (nuint*)p; p += tokens;
        _srcIov = (IoVec*)p; p += iov;
        _dstIov = (IoVec*)p; p += iov;
        _segGpa = (ulong*)p; p += gpa;
        _used = (VringUsedElem*)p;
    }

    /// <summary>Slots a submit may still fill.</summary>
    public uint FreeSlots => SlotCapacity - (SlotTail - ReturnHead);

    /// <summary>Packets submitted and not polled back yet (hp_vhost_async_get_inflight).</summary>
    public uint Unreturned => SlotTail - ReturnHead;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private AsyncSlot* Slot(uint seq) => _slots + (seq & (SlotCapacity - 1));   // SAFETY: masked into the slot array

    /// <summary>Slot <paramref name="seq"/>'s packet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Mbuf* MbufOf(uint seq) => ref _mbufs[seq & (SlotCapacity - 1)];   // SAFETY: masked into the array

    /// <summary>The slot the packet being written goes to (committed by <see cref="Commit"/>).</summary>
    public AsyncSlot* Current => Slot(SlotTail);

    /// <summary>
    /// Starts the current slot's segments: reserves up to <paramref name="want"/> contiguous arena entries (skipping
    /// the arena's short tail) and returns how many it got (0: the packet is copied by the CPU).
    /// </summary>
    public uint BeginSegments(uint want)
    {
        AsyncSlot* s = Current;
        want = Math.Min(want, MaxPacketSegs);
        uint pos = SegTail & (SegCapacity - 1);
        uint skip = pos + want > SegCapacity ? SegCapacity - pos : 0;
        if (SegTail + skip + want - SegHead > SegCapacity)
        {
            s->SegStart = pos;
            s->SegCount = 0;
            s->SegEnd = SegTail;
            return 0;
        }
        SegTail += skip;
        s->SegStart = SegTail & (SegCapacity - 1);
        s->SegCount = 0;
        s->SegEnd = SegTail;
        return want;
    }

    /// <summary>Appends one copy to the current slot (the caller stays within what <see cref="BeginSegments"/> granted).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddSegment(byte* src, byte* dst, uint len, ulong gpa)
    {
        AsyncSlot* s = Current;
        uint i = s->SegStart + s->SegCount++;
        Debug.Assert(i < SegCapacity);
        // SAFETY: i < SegStart + granted <= SegCapacity: inside the arena arrays.
        _srcIov[i] = new IoVec { Base = src, Len = len };
        _dstIov[i] = new IoVec { Base = dst, Len = len };
        _segGpa[i] = gpa;
    }

    /// <summary>
    /// Commits the current slot for <paramref name="m"/>, whose used entries end at pending position
    /// <paramref name="usedEnd"/>: done at once when the CPU wrote everything, else waiting for the channel.
    /// </summary>
    public void Commit(Mbuf* m, uint usedEnd)
    {
        AsyncSlot* s = Current;
        MbufOf(SlotTail) = m;
        s->UsedEnd = usedEnd;
        SegTail += s->SegCount;   // BeginSegments already moved SegTail past a skipped arena tail
        s->SegEnd = SegTail;
        if (s->SegCount == 0) MarkCpuDone(s);
        else
        {
            ulong bytes = 0;
            for (uint i = 0; i < s->SegCount; i++) bytes += _srcIov[s->SegStart + i].Len;
            Stage(s, SlotTail, (nuint)bytes);
        }
        SlotTail++;
    }

    /// <summary>
    /// The submits' inline case: commits <paramref name="m"/> whose bytes are one copy of <paramref name="len"/> from
    /// <paramref name="src"/> to <paramref name="dst"/> (enqueue: the mbuf's data into the guest buffer at
    /// <paramref name="gpa"/>; dequeue: the guest buffer into the mbuf). False, with nothing else changed, when the
    /// engine channel (counted in <see cref="CpuFallbacks"/>) or the arena is full: the caller copies with the CPU and
    /// commits through <see cref="CommitCpu"/>. With the built-in engine the copy goes into the engine's job and the
    /// slot keeps no segment: the enqueue's inline case never runs while logging (RegionCache.ForInline), a log starts
    /// only after a settle, and a dequeue's copies write mbufs, so the guest address is never needed.
    /// </summary>
    /// <remarks>Out of line: the runs take the built-in engine's common case, and the per-packet loops that call this
    /// keep fewer values live without its body (the 64 B dequeue, whose packets never reach it: 2 fewer per packet).</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool CommitOne(Mbuf* m, byte* src, byte* dst, uint len, ulong gpa, uint usedEnd)
    {
        CopyEngineChannel? e = _engine;
        if (e == null) return CommitOneThroughIters(m, src, dst, len, gpa, usedEnd);
        if (!e.CanStage)
        {
            CpuFallbacks++;   // the engine channel is full: the caller copies
            return false;
        }
        Debug.Assert(Vring.ActiveLog == null || (QueueId & 1) != 0);
        uint seq = SlotTail;
        e.StageOne(src, dst, len, seq);   // no iters: the engine copies the one range
        AsyncSlot* s = Slot(seq);
        MbufOf(seq) = m;
        s->UsedEnd = usedEnd;
        s->Ticket = ++_issued;
        s->SegCount = 0;
        s->SegEnd = SegTail;
        s->State = AsyncSlot.InChannel;
        SlotTail = seq + 1;
        return true;
    }

    /// <summary>The built-in engine's channel when it is registered in order: the split submit's inline runs
    /// (<see cref="AsyncSplitEnqueue"/>) write its jobs directly.</summary>
    public CopyEngineChannel? InOrderEngine => Features.InOrder ? _engine : null;

    /// <summary>
    /// Commits the <paramref name="k"/> packets of an inline run (the submits and the dequeue): their engine jobs
    /// hold the copies (written after the staged ones), their used entries are the next <paramref name="k"/> after
    /// pending position <paramref name="usedPos"/>, one each. No arena segment (as <see cref="CommitOne"/>).
    /// </summary>
    public void CommitRun(Mbuf** pkts, uint k, uint usedPos)
    {
        Debug.Assert((Vring.ActiveLog == null || (QueueId & 1) != 0) && Features.InOrder && _engine != null);
        uint seq = SlotTail, ticket = _issued;
        uint at = seq & (SlotCapacity - 1);
        uint first = Math.Min(k, SlotCapacity - at);
        // SAFETY: at + first <= SlotCapacity and k - first < SlotCapacity: inside the slot array.
        FillRun(_slots + at, first, usedPos + 1, ticket + 1, SegTail);
        if (k != first) FillRun(_slots, k - first, usedPos + 1 + first, ticket + 1 + first, SegTail);
        CopyMbufs(seq, pkts, k);
        _engine!.StageRun(k);
        _issued = ticket + k;
        SlotTail = seq + k;
    }

    /// <summary>
    /// <paramref name="n"/> consecutive run slots from <paramref name="s"/> on: used ends and tickets counting up by one
    /// from <paramref name="usedEnd"/> and <paramref name="ticket"/>, no segments. State is not set: an in-order
    /// queue's slots are done by ticket.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FillRun(AsyncSlot* s, uint n, uint usedEnd, uint ticket, uint segEnd)
    {
        for (AsyncSlot* end = s + n; s != end; s++, usedEnd++, ticket++)
        {
            s->UsedEnd = usedEnd;
            s->Ticket = ticket;
            s->SegCount = 0;
            s->SegEnd = segEnd;
        }
    }

    /// <summary><see cref="CommitOne"/> for an application's channel: the copy as one arena segment and its iters.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CommitOneThroughIters(Mbuf* m, byte* src, byte* dst, uint len, ulong gpa, uint usedEnd)
    {
        uint t = SegTail;
        if (t - SegHead >= SegCapacity) return false;   // one segment never needs the arena's tail skipped
        uint i = t & (SegCapacity - 1);
        // SAFETY: i < SegCapacity: inside the arena arrays.
        _srcIov[i] = new IoVec { Base = src, Len = len };
        _dstIov[i] = new IoVec { Base = dst, Len = len };
        _segGpa[i] = gpa;
        SegTail = t + 1;
        uint seq = SlotTail;
        AsyncSlot* s = Slot(seq);
        MbufOf(seq) = m;
        s->UsedEnd = usedEnd;
        s->SegStart = i;
        s->SegCount = 1;
        s->SegEnd = t + 1;
        Stage(s, seq, len);
        SlotTail = seq + 1;
        return true;
    }

    /// <summary>Commits <paramref name="m"/>, whose bytes the CPU wrote: done at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CommitCpu(Mbuf* m, uint usedEnd)
    {
        AsyncSlot* s = Current;
        MbufOf(SlotTail) = m;
        s->UsedEnd = usedEnd;
        s->SegCount = 0;
        s->SegEnd = SegTail;
        MarkCpuDone(s);
        SlotTail++;
    }

    /// <summary>A slot whose bytes the CPU wrote: done now, publishable once every packet before it is (in-order: its
    /// ticket is the count of packets handed over before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MarkCpuDone(AsyncSlot* s)
    {
        s->State = AsyncSlot.Done;
        s->Ticket = _issued;
    }

    /// <summary>
    /// Puts slot <paramref name="seq"/> (its segments written) in the next transfer_data: its iters and desc now (the
    /// built-in engine's job), so that <see cref="Offer"/> is one call. It is marked as the channel's;
    /// <see cref="Offer"/> copies by CPU what the channel refuses (a full engine channel: at once).
    /// </summary>
    private void Stage(AsyncSlot* s, uint seq, nuint bytes)
    {
        uint k = seq & (SlotCapacity - 1);
        AsyncIovIter* src = _iters + 2 * k, dst = src + 1;
        *src = new AsyncIovIter { Offset = 0, Count = bytes, Iov = _srcIov + s->SegStart, NrSegs = s->SegCount };
        *dst = new AsyncIovIter { Offset = 0, Count = bytes, Iov = _dstIov + s->SegStart, NrSegs = s->SegCount };
        uint n = _staged;
        if (_engine != null)
        {
            if (!_engine.CanStage)
            {
                CopyByCpu(s);
                CpuFallbacks++;
                return;
            }
            _engine.Stage(src, dst, seq);
        }
        else
        {
            // SAFETY: a burst stages at most SlotCapacity packets (FreeSlots bounds it); the staging arrays hold that many.
            _descs[n] = new AsyncDesc { Src = src, Dst = dst };
            _tokens[n] = seq;
            _staged = n + 1;
        }
        s->State = AsyncSlot.InChannel;
        s->Ticket = ++_issued;
    }

    /// <summary>Packets the synchronous path already delivered (packed rings, IOTLB devices): done at once, no used entries pending.</summary>
    public void CommitDelivered(Mbuf** pkts, uint n)
    {
        for (uint i = 0; i < n; i++)
        {
            AsyncSlot* s = Current;
            MbufOf(SlotTail) = pkts[i];
            s->UsedEnd = UsedTail;
            s->SegStart = SegTail & (SegCapacity - 1);
            s->SegCount = 0;
            s->SegEnd = SegTail;
            MarkCpuDone(s);
            SlotTail++;
        }
        HandHead = SlotTail;
    }

    /// <summary>Appends a burst's used entries (shadow order = ring order) to the pending used ring.</summary>
    public void AppendUsed(VringUsedElem* shadow, uint n)
    {
        Debug.Assert(UsedTail - UsedHead + n <= UsedCapacity);
        uint start = UsedTail & (UsedCapacity - 1);
        uint first = Math.Min(n, UsedCapacity - start);
        // SAFETY: start + first <= UsedCapacity and n - first < UsedCapacity: inside the pending ring.
        PacketCopy.Copy((byte*)(_used + start), (byte*)shadow, (nuint)first * 8);
        if (n != first) PacketCopy.Copy((byte*)_used, (byte*)(shadow + first), (nuint)(n - first) * 8);
        UsedTail += n;
    }

    /// <summary>
    /// Hands the packets staged since the last call to the channel (one transfer_data); the packets it does not
    /// accept are copied by the CPU now.
    /// </summary>
    public void Offer()
    {
        HandHead = SlotTail;
        if (_engine != null)
        {
            // The jobs were written as the packets committed. Those the engine's ring has no room for stay staged,
            // in order, for the next submit, poll or settle: no refusal, so the tickets hold.
            InChannel += _engine.SubmitStaged();
            return;
        }
        uint n = _staged;
        if (n == 0) return;
        _staged = 0;
        var status = new AsyncStatus { DstOpaqueData = _tokens };
        uint taken = Channel.TransferData(Device.Vid, QueueId, _descs, Features.InOrder ? null : &status, (ushort)n);
        if (taken > n) taken = n;   // a channel claiming more than it was given: only what it was given
        InChannel += taken;
        if (taken != n) Refused(taken, n);
    }

    /// <summary>
    /// The staged packets [<paramref name="taken"/>, <paramref name="n"/>) the application's channel did not take:
    /// copied by the CPU now. Their tickets counted them as handed over; they and every slot after them (all of this
    /// submit) get the count of what the channel took.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refused(uint taken, uint n)
    {
        uint first = (uint)_tokens[taken];   // tokens are slot sequence numbers
        for (uint i = taken; i < n; i++)
        {
            CopyByCpu(Slot((uint)_tokens[i]));
            CpuFallbacks++;
        }
        _issued -= n - taken;
        for (uint seq = first; seq != HandHead; seq++)
        {
            AsyncSlot* s = Slot(seq);
            if ((int)(s->Ticket - _issued) > 0) s->Ticket = _issued;
        }
    }

    /// <summary>Jobs the engine's ring had no room for at their submit go to the engine now (see <see cref="Offer"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SubmitLeftovers()
    {
        if (_engine != null && _engine.Staged != 0) InChannel += _engine.SubmitStaged();
    }

    /// <summary>A poll: completions, then publication of what they made publishable, then the packets handed back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Poll(Mbuf** pkts, uint count)
    {
        // Only a completion makes more publishable: a submit (Offer, Publish) and a settle end with all published.
        // The built-in engine's counter says whether there is one without a call.
        SubmitLeftovers();
        if (InChannel != 0 && (_engine == null || _engine.HasCompletions) && Reap()) Publish();
        return PublishHead == ReturnHead ? 0 : TakeCompleted(pkts, count);
    }

    /// <summary>Asks the channel for completions and marks the packets done; true when it reported any.</summary>
    public bool Reap()
    {
        if (InChannel == 0 || (_engine != null && !_engine.HasCompletions)) return false;
        ushort max = (ushort)Math.Min(InChannel, Features.InOrder ? ushort.MaxValue : SlotCapacity);
        if (Features.InOrder)
        {
            uint k = Math.Min(_engine != null
                ? _engine.CheckCompletedCopies(Device.Vid, QueueId, null, max)
                : Channel.CheckCompletedCopies(Device.Vid, QueueId, null, max), InChannel);
            if (k == 0) return false;
            InChannel -= k;
            _completed += k;   // the packets whose tickets it reaches are done (Publish)
            return true;
        }
        var status = new AsyncStatus { DstOpaqueData = _tokens };
        uint got = Math.Min(_engine != null
            ? _engine.CheckCompletedCopies(Device.Vid, QueueId, &status, max)
            : Channel.CheckCompletedCopies(Device.Vid, QueueId, &status, max), max);
        for (uint i = 0; i < got; i++)
        {
            uint seq = (uint)_tokens[i];
            AsyncSlot* s = Slot(seq);
            // A token must name a packet the channel holds: between the oldest unpublished slot and the last handed one.
            if (seq - PublishHead >= HandHead - PublishHead || s->State != AsyncSlot.InChannel)
            {
                BadCompletions++;
                continue;
            }
            s->State = AsyncSlot.Done;
            InChannel--;
        }
        return got != 0;
    }

    /// <summary>Copies a slot's segments with the CPU (the channel did not take them) and marks it done.</summary>
    private void CopyByCpu(AsyncSlot* s)
    {
        for (uint i = 0; i < s->SegCount; i++)
        {
            uint j = s->SegStart + i;
            // SAFETY: each segment lies inside one guest piece and one mbuf segment (AsyncSink cut it so).
            PacketCopy.Copy((byte*)_dstIov[j].Base, (byte*)_srcIov[j].Base, _dstIov[j].Len);
        }
        MarkCpuDone(s);
    }

    /// <summary>Marks the destinations of a slot's segments in the dirty log (after their copies completed).</summary>
    private void LogSegments(Logging.DirtyLog log, AsyncSlot* s)
    {
        ulong pages = 0;
        for (uint i = 0; i < s->SegCount; i++)
        {
            uint j = s->SegStart + i;
            pages += log.MarkRange(_segGpa[j], _dstIov[j].Len);
        }
        Vring.Stats.Add(VringStats.LogPagesMarked, pages);
    }

    /// <summary>
    /// Publishes, in ring order, the used entries of every done packet with no unfinished packet before it (and,
    /// when nothing is unfinished, the bad chains after the last packet): one release store of used.idx and one
    /// notification check, as a synchronous burst's end.
    /// </summary>
    public void Publish()
    {
        Vring vq = Vring;
        Logging.DirtyLog? log = vq.ActiveLog;
        uint end = UsedHead;
        uint p = PublishHead;
        if (Features.InOrder)
        {
            // Tickets do not decrease in slot order: every slot is done when the channel completed all it was
            // given, else the first slot not done is found by bisection.
            if (_completed == _issued) p = HandHead;
            else
            {
                uint hi = HandHead;
                while (p != hi)
                {
                    uint mid = p + (hi - p) / 2;
                    if ((int)(Slot(mid)->Ticket - _completed) <= 0) p = mid + 1;
                    else hi = mid;
                }
            }
        }
        else
            while (p != HandHead && Slot(p)->State == AsyncSlot.Done) p++;
        if (p != PublishHead)
        {
            // Logging: the copies completed (the channel reported it), the used index is not written yet.
            // A TX queue's copies write mbufs, not guest memory: nothing to mark.
            if (log != null && (QueueId & 1) == 0)
                for (uint i = PublishHead; i != p; i++)
                    if (Slot(i)->SegCount != 0) LogSegments(log, Slot(i));
            AsyncSlot* last = Slot(p - 1);
            end = last->UsedEnd;
            SegHead = last->SegEnd;
        }
        PublishHead = p;
        if (p == SlotTail) end = UsedTail;
        uint n = end - UsedHead;
        if (n == 0) return;
        if (vq.IsPacked) PublishPacked(n);   // AsyncQueue.Packed.cs
        // A ring without pointers (never the case after a settle-first control plane) has nowhere to put them.
        else if (vq.IsTranslated && vq.SplitScratch is { } scratch && n <= scratch.RingSize)
        {
            VringUsedElem* shadow = scratch.Shadow;
            uint start = UsedHead & (UsedCapacity - 1);
            uint first = Math.Min(n, UsedCapacity - start);
            // SAFETY: n <= RingSize (the shadow's entries); both source ranges are inside the pending ring.
            PacketCopy.Copy((byte*)shadow, (byte*)(_used + start), (nuint)first * 8);
            if (n != first) PacketCopy.Copy((byte*)(shadow + first), (byte*)_used, (nuint)(n - first) * 8);
            // Ordering: the channel's writes happened before it reported them (its completion is our acquire);
            // the release store of used.idx in the publication orders them before the guest sees the entries.
            vq.LastUsedIdx = vq.ColdFeatures == 0
                ? SplitUsedRing.Publish(vq.Used, vq.Size, shadow, n, vq.LastUsedIdx)
                : SplitColdPublish.Publish(Device, vq, shadow, n);
            SplitUsedRing.NotifyIfWanted(Device, vq, vq.Avail, vq.LastUsedIdx,
                VirtioFeatures.Has(Device.Features, VirtioFeatures.RingEventIdx));
        }
        UsedHead = end;
    }

    /// <summary>Records <paramref name="k"/> packets as slots <paramref name="seq"/>, +1, ...'s.</summary>
    private void CopyMbufs(uint seq, Mbuf** pkts, uint k)
    {
        uint start = seq & (SlotCapacity - 1);
        uint first = Math.Min(k, SlotCapacity - start);
        // SAFETY: as TakeCompleted: both ranges inside the mbuf array; pkts holds k.
        PacketCopy.Copy((byte*)(_mbufs + start), (byte*)pkts, (nuint)first * (nuint)sizeof(Mbuf*));
        if (k != first) PacketCopy.Copy((byte*)_mbufs, (byte*)(pkts + first), (nuint)(k - first) * (nuint)sizeof(Mbuf*));
    }

    /// <summary>Hands up to <paramref name="count"/> published packets back to the application, in submit order.</summary>
    public uint TakeCompleted(Mbuf** pkts, uint count)
    {
        uint n = Math.Min(count, PublishHead - ReturnHead);
        uint start = ReturnHead & (SlotCapacity - 1);
        uint first = Math.Min(n, SlotCapacity - start);
        // SAFETY: start + first <= SlotCapacity and n - first < SlotCapacity: inside the mbuf array; pkts holds count.
        PacketCopy.Copy((byte*)pkts, (byte*)(_mbufs + start), (nuint)first * (nuint)sizeof(Mbuf*));
        if (n != first) PacketCopy.Copy((byte*)(pkts + first), (byte*)_mbufs, (nuint)(n - first) * (nuint)sizeof(Mbuf*));
        ReturnHead += n;
        return n;
    }
}
