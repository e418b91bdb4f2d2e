using HotPath.Engine.Virtio;

namespace HotPath.Tests.Datapath;

/// <summary>The feature combinations round trips run under: MRG_RXBUF, INDIRECT_DESC and EVENT_IDX, each on and off.</summary>
public static class DatapathModes
{
    public static TheoryData<bool, bool, bool> All()
    {
        var d = new TheoryData<bool, bool, bool>();
        foreach (bool mrg in new[] { false, true })
            foreach (bool ind in new[] { false, true })
                foreach (bool evt in new[] { false, true })
                    d.Add(mrg, ind, evt);
        return d;
    }

    public static ulong Features(bool mrg, bool indirect, bool eventIdx)
    {
        var bits = new List<int>();
        if (mrg) bits.Add(VirtioFeatures.NetMrgRxbuf);
        if (indirect) bits.Add(VirtioFeatures.RingIndirectDesc);
        if (eventIdx) bits.Add(VirtioFeatures.RingEventIdx);
        return Loopback.With(bits.ToArray());
    }
}
