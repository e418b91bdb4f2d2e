namespace HotPath.Tests.Infrastructure;

/// <summary>
/// Tests that start real peers (dpdk-testpmd, QEMU) or measure process-wide counters (fd count, RSS, allocations)
/// run one at a time: on a 2-core machine a polling peer needs a core to itself.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
