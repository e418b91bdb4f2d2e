using HotPath.Fuzz.Core;

// The split and packed ring properties: each is its generator, its steps, its rig and its run (the guest drivers,
// models and checks of its ring type, in Split/SplitRun.cs and Packed/PackedRun.cs).

namespace HotPath.Fuzz.Split
{
    /// <summary>
    /// Split rings against the reference model, step by step: after every burst the packets the device returned, the
    /// whole guest memory (byte for byte: nothing written outside the used ring and the writable buffers it filled, and
    /// those hold exactly header and packet), the used ring, the ring indexes, the broken flag and every per-vring
    /// counter equal the model's; no exception escapes; every mbuf goes back to the pool. At the end a valid chain still
    /// goes through on every ring the guest did not break.
    /// </summary>
    public sealed class SplitRingProperty()
        : RingProperty<SplitCase, Step>("split", SplitGen.Cases, c => c.Steps, RingRig.For,
            (c, rig, pool) => new SplitRun(c, rig, pool));
}

namespace HotPath.Fuzz.Packed
{
    /// <summary>
    /// Packed rings against the reference model, step by step: after every burst the packets the device returned, the
    /// whole guest memory (byte for byte: nothing written outside the used descriptors, the device event area and the
    /// writable buffers it filled, and those hold exactly header and packet), the ring cursors and wrap counters and every
    /// per-vring counter (drops by reason, batched descriptors) equal the model's; no exception escapes; every mbuf goes
    /// back to the pool. At the end, after the guest's wrong flags are repaired, a valid chain still goes through on both
    /// rings.
    /// </summary>
    public sealed class PackedRingProperty()
        : RingProperty<PackedCase, PackedStep>("packed", PackedGen.Cases, c => c.Steps, RingRig.For,
            (c, rig, pool) => new PackedRun(c, rig, pool));
}
