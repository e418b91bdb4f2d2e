using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Frontend.VhostUser;

/// <summary>The vrings of a virtio-net device without a control queue: RX (even index) and TX (odd) per queue pair.</summary>
public static class NetVrings
{
    /// <summary>Allocates 2 × <paramref name="queuePairs"/> rings of <paramref name="size"/> entries in <paramref name="memory"/>.</summary>
    public static IReadOnlyList<RingAreas> Allocate(FrontendMemory memory, int queuePairs, uint size, bool packed)
    {
        if (queuePairs < 1) throw new ArgumentOutOfRangeException(nameof(queuePairs), "a net device has at least one queue pair");
        var rings = new RingAreas[2 * queuePairs];
        for (int i = 0; i < rings.Length; i++)
            rings[i] = packed ? RingAreas.AllocatePacked(memory, size) : RingAreas.AllocateSplit(memory, size);
        return rings;
    }

    public static bool IsRx(uint vring) => vring % 2 == 0;
    public static uint RxVring(int queuePair) => (uint)(2 * queuePair);
    public static uint TxVring(int queuePair) => (uint)(2 * queuePair + 1);
}
