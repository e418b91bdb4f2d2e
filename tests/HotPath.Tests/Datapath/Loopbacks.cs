using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>The loopback of a ring type, for tests written once over the ring driver type.</summary>
internal static class Loopbacks
{
    /// <summary>A <see cref="Loopback"/> (split) or <see cref="PackedLoopback"/> with the given settings.</summary>
    public static Loopback<TDriver> Create<TDriver>(ulong features = Loopback.BaseFeatures, uint ringSize = 256, uint bufferSize = 2048,
        bool interrupts = false) where TDriver : class, IRingDriver =>
        typeof(TDriver) == typeof(SplitRingDriver)
            ? (Loopback<TDriver>)(object)new Loopback(features, ringSize, bufferSize, interrupts: interrupts)
            : (Loopback<TDriver>)(object)new PackedLoopback(features, ringSize, bufferSize, interrupts: interrupts);
}
