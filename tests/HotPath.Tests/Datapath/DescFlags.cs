using HotPath.Engine.Virtio;

namespace HotPath.Tests.Datapath;

/// <summary>Descriptor flags for raw chains; NEXT, WRITE and INDIRECT have the same values in the split and the
/// packed layout (virtio 1.2, 2.7.5 and 2.8.10), so one set serves tests of either ring type.</summary>
internal static class DescFlags
{
    public const ushort Next = VringDesc.FlagNext, Write = VringDesc.FlagWrite, Indirect = VringDesc.FlagIndirect;
}
