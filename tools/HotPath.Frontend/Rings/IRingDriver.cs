namespace HotPath.Frontend.Rings;

/// <summary>
/// The driver side of one virtqueue (what a guest's virtio-net driver does), whatever the ring layout: post TX
/// packets and RX buffers, publish them (kicking the device when it asks for it), reap used entries, receive packets
/// (joining mergeable buffers), and control interrupts. <see cref="SplitRingDriver"/> and
/// <see cref="PackedRingDriver"/> implement it, so tests, DirectAttach, hp-frontend, benchmarks and fuzzing drive
/// either through one shape. Raw (hostile) access is ring-specific and lives on the classes. One thread drives one
/// instance; posting and reaping allocate nothing.
/// </summary>
public interface IRingDriver : IDisposable
{
    RingDriverOptions Options { get; }
    /// <summary>Where the ring lives in guest memory (what SET_VRING_NUM/ADDR/BASE carry).</summary>
    RingAreas Areas { get; }
    /// <summary>The guest buffers the driver posts (with guard bytes around each).</summary>
    DescriptorBuffers Buffers { get; }
    uint Size { get; }
    int HeaderSize { get; }
    /// <summary>Descriptors (split) or ring slots (packed) free for posting.</summary>
    int FreeDescriptors { get; }
    /// <summary>Chains posted (published or not) whose used entries have not been reaped.</summary>
    int InFlight { get; }
    /// <summary>Kick eventfd (driver → device); the device side gets a dup through the attach.</summary>
    int KickFd { get; }
    /// <summary>Call eventfd (device → driver).</summary>
    int CallFd { get; }
    /// <summary>Kicks written so far.</summary>
    long Kicks { get; }

    /// <summary>Posts one TX packet (header then data) laid out as <paramref name="shape"/> says, without publishing it.
    /// False when there are not enough free descriptors (or the crossing buffer is in use).</summary>
    bool PostTx(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, TxShape shape = default);

    /// <summary>Reaps TX completions; returns how many used entries were consumed.</summary>
    int ReapTx(int max = int.MaxValue);

    /// <summary>Posts one writable RX chain of <paramref name="len"/> bytes over <paramref name="descriptors"/>
    /// descriptors (direct, or inside an indirect table), without publishing it. False when out of descriptors.</summary>
    bool PostRx(uint len, int descriptors = 1, bool indirect = false, bool crossRegion = false);

    /// <summary>Posts as many RX chains of <paramref name="len"/> bytes as descriptors allow; returns how many.</summary>
    int FillRx(uint len, int descriptors = 1, bool indirect = false);

    /// <summary>
    /// Takes the next received packet: copies its data (after the net header) into <paramref name="dst"/> and returns
    /// its header and lengths. With MRG_RXBUF the packet's num_buffers used entries are joined. A chain the device
    /// returned empty (a dropped chain) comes back with <see cref="RxInfo.UsedLen"/> 0. False when nothing is waiting,
    /// or a mergeable packet's buffers are not all published yet.
    /// </summary>
    bool TryReceive(Span<byte> dst, out RxInfo info);

    /// <summary>Makes every posted entry visible to the device, then kicks it when it asks for it. True when it kicked.</summary>
    bool Publish();

    /// <summary>Asks for an interrupt at the next used entry (EVENT_IDX: at exactly that entry).</summary>
    void EnableInterrupts();

    /// <summary>Asks for no interrupts (split: VRING_AVAIL_F_NO_INTERRUPT; packed: driver event flags DISABLE).</summary>
    void DisableInterrupts();

    /// <summary>Reads and clears the call eventfd: the number of notifications since the last drain.</summary>
    ulong DrainCalls();
}

/// <summary>One received packet: data length (after the header), its header, the summed used lengths and the
/// number of used entries it took.</summary>
public readonly record struct RxInfo(int Length, HotPath.Engine.Virtio.VirtioNetHeader Header, uint UsedLen, int Buffers);
