namespace HotPath.Engine.Iommu;

/// <summary>Who sends the IOTLB misses a device asks for (the control plane, on the backend-request channel).</summary>
public interface IIotlbMissSink
{
    /// <summary>Misses are waiting in <see cref="IotlbMisses"/>. Called from any thread, datapath included: it must
    /// not block (hand the work to the control thread).</summary>
    void MissesPending();
}

/// <summary>
/// The IOTLB misses of one device that the frontend has not answered yet: a few fixed slots, filled by bursts (any
/// datapath thread, lock-free, no allocation) and by ring translation, drained by the control thread, which sends one
/// IOTLB_MSG MISS per slot. A miss is keyed by its 4 KiB page and access: asked again while pending it is not sent
/// again (one request per missing address, not per packet), unless the frontend left it unanswered for
/// <see cref="RetryMilliseconds"/>. An update covering it ends it. When every slot is taken a new miss waits for the
/// next burst that meets it.
/// </summary>
public sealed class IotlbMisses
{
    public const int Slots = 16;
    public const long RetryMilliseconds = 1000;
    private const int Empty = 0, Claimed = 1, Ready = 2, Sent = 3;

    private readonly int[] _state = new int[Slots];
    private readonly ulong[] _key = new ulong[Slots];     // page | perm
    private readonly ulong[] _iova = new ulong[Slots];
    private readonly long[] _sentAt = new long[Slots];
    private int _signalled;

    /// <summary>Where <see cref="Request"/> reports new misses (null: they wait until someone drains).</summary>
    public IIotlbMissSink? Sink { get; set; }

    /// <summary>Misses sent so far (what the frontend was asked).</summary>
    public long SentCount;

    /// <summary>Asks for [<paramref name="iova"/>] with <paramref name="perm"/>. Lock-free; never allocates.</summary>
    public void Request(ulong iova, byte perm)
    {
        ulong key = (iova & ~0xFFFUL) | perm;
        for (int i = 0; i < Slots; i++)
        {
            int st = Volatile.Read(ref _state[i]);
            if (st < Ready || Volatile.Read(ref _key[i]) != key) continue;
            // Pending: sent once already; again only when the frontend let it wait too long.
            if (st == Sent && Environment.TickCount64 - Volatile.Read(ref _sentAt[i]) > RetryMilliseconds &&
                Interlocked.CompareExchange(ref _state[i], Ready, Sent) == Sent) Signal();
            return;
        }
        for (int i = 0; i < Slots; i++)
        {
            if (Interlocked.CompareExchange(ref _state[i], Claimed, Empty) != Empty) continue;
            _key[i] = key;
            _iova[i] = iova;
            Volatile.Write(ref _state[i], Ready);   // release: key and address are visible before the slot is
            Signal();
            return;
        }
    }

    private void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0) Sink?.MissesPending();
    }

    /// <summary>
    /// Control thread: the misses to send now (each marked sent). Returns how many were written to
    /// <paramref name="into"/>.
    /// </summary>
    public int TakeReady(Span<(ulong Iova, byte Perm)> into)
    {
        Volatile.Write(ref _signalled, 0);
        int n = 0;
        for (int i = 0; i < Slots && n < into.Length; i++)
        {
            if (Volatile.Read(ref _state[i]) != Ready) continue;
            into[n++] = (_iova[i], (byte)(_key[i] & 3));
            Volatile.Write(ref _sentAt[i], Environment.TickCount64);
            // A burst may have reset it to Ready meanwhile: it is sent now either way.
            Interlocked.CompareExchange(ref _state[i], Sent, Ready);
            Interlocked.Increment(ref SentCount);
        }
        return n;
    }

    /// <summary>An update mapped [first, last]: the misses inside it are answered.</summary>
    public void Resolved(ulong first, ulong last)
    {
        for (int i = 0; i < Slots; i++)
        {
            int st = Volatile.Read(ref _state[i]);
            if (st >= Ready && _iova[i] >= first && _iova[i] <= last) Interlocked.CompareExchange(ref _state[i], Empty, st);
        }
    }

    /// <summary>Forgets every pending miss (the IOTLB was flushed).</summary>
    public void Clear()
    {
        for (int i = 0; i < Slots; i++)
        {
            int st = Volatile.Read(ref _state[i]);
            if (st >= Ready) Interlocked.CompareExchange(ref _state[i], Empty, st);
        }
    }

    /// <summary>Misses waiting for an answer (sent or about to be).</summary>
    public int Pending
    {
        get
        {
            int n = 0;
            for (int i = 0; i < Slots; i++)
                if (Volatile.Read(ref _state[i]) >= Ready) n++;
            return n;
        }
    }
}
