using HotPath.Engine.Datapath;

namespace HotPath.Engine.Vrings;

/// <summary>
/// Packed-ring datapath state of a vring: its native scratch and the guest-kick suppression setting. The ring
/// positions themselves are the shared <see cref="LastAvailIdx"/>/<see cref="AvailWrapCounter"/> and
/// <see cref="LastUsedIdx"/>/<see cref="UsedWrapCounter"/>.
/// </summary>
public sealed unsafe partial class Vring
{
    private PackedScratch? _packedScratch;

    /// <summary>The packed datapath's scratch; non-null whenever a translated packed ring is set up.</summary>
    internal PackedScratch? PackedScratch => _packedScratch;

    /// <summary>Next avail position as index | wrap &lt;&lt; 15 (what GET_VRING_BASE reports for a packed ring).</summary>
    internal ushort PackedAvailPosition => PackedRingLayout.Position(LastAvailIdx, AvailWrapCounter);

    /// <summary>Next used position as index | wrap &lt;&lt; 15.</summary>
    internal ushort PackedUsedPosition => PackedRingLayout.Position(LastUsedIdx, UsedWrapCounter);

    /// <summary>Sizes the scratch for the current ring (allocates only when the size changed).</summary>
    private void PreparePacked()
    {
        if (_packedScratch != null && _packedScratch.RingSize == Size) return;
        _packedScratch?.Dispose();
        _packedScratch = new PackedScratch(Size);
    }

    /// <summary>
    /// Suppresses guest kicks (we poll): the device event suppression area says DISABLE, with or without EVENT_IDX
    /// (a packed ring can switch kicks off outright; off_wrap is then meaningless and left 0). With
    /// <see cref="GuestKicksWanted"/> it says ENABLE, or DESC at the next avail position with EVENT_IDX. Called from a burst when
    /// the features changed since last time, i.e. on the first burst after the ring was (re)translated.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ApplyPackedKickSuppression(ulong features)
    {
        // SAFETY: Used (the device area) was translated with its full 4 bytes.
        // Ordering: a plain store; the driver reads it only as a hint after its own full fence (virtio 2.8.10), and
        // the release stores of the used flags that follow order it for a driver that waits for them.
        uint word = (uint)VringPackedEvent.Disable << 16;
        if (GuestKicksWanted)
        {
            // Interrupt mode: kick for every new buffer, or with EVENT_IDX from the next avail position on.
            word = VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx)
                ? (uint)VringPackedEvent.Desc << 16 | PackedRingLayout.Position(LastAvailIdx, AvailWrapCounter)
                : (uint)VringPackedEvent.Enable << 16;
        }
        Volatile.Write(ref *(uint*)(Used + PackedRingLayout.EventOffWrapOffset), word);
        KickSuppressionFeatures = features;
    }
}
