namespace HotPath.Engine.Async;

/// <summary>
/// The features word of hp_vhost_async_channel_register, laid out as the seed's rte_vhost_async_features: bit 0
/// async_inorder, bits 16-27 async_threshold (bytes; a copy shorter than this is done by the CPU at submit). Beyond
/// the seed, a channel without async_inorder is supported: it completes packets in any order and names them by token.
/// </summary>
public readonly struct AsyncFeatures
{
    public const uint InOrderBit = 1;
    public const int ThresholdShift = 16;
    public const uint ThresholdMask = 0xFFF;
    /// <summary>Bits the seed reserves (resvd_0, resvd_1): refused.</summary>
    public const uint Reserved = 0xF000_FFFE;

    public readonly bool InOrder;
    public readonly uint Threshold;

    public AsyncFeatures(bool inOrder, uint threshold)
    {
        InOrder = inOrder;
        Threshold = Math.Min(threshold, ThresholdMask);
    }

    /// <summary>The word for these features.</summary>
    public uint Value => (InOrder ? InOrderBit : 0) | (Threshold << ThresholdShift);

    /// <summary>Parses <paramref name="value"/>; false when a reserved bit is set.</summary>
    public static bool TryParse(uint value, out AsyncFeatures f)
    {
        f = new AsyncFeatures((value & InOrderBit) != 0, (value >> ThresholdShift) & ThresholdMask);
        return (value & Reserved) == 0;
    }
}
