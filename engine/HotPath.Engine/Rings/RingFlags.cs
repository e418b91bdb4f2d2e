namespace HotPath.Engine.Rings;

/// <summary>Ring creation flags, values as the C API's HP_RING_F_* (and DPDK's RING_F_SP_ENQ / RING_F_SC_DEQ).</summary>
[Flags]
public enum RingFlags : uint
{
    /// <summary>Multi-producer, multi-consumer.</summary>
    None = 0,
    /// <summary>HP_RING_F_SP_ENQ: exactly one thread enqueues at a time; the producer takes no atomics.</summary>
    SpEnq = 1,
    /// <summary>HP_RING_F_SC_DEQ: exactly one thread dequeues at a time; the consumer takes no atomics.</summary>
    ScDeq = 2,
}
