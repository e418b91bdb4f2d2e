using HotPath.Engine.Datapath;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>rte_vhost_vring_call: an explicit guest notification for applications that publish used entries themselves.</summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>
    /// Notifies the guest about the used entries published so far on vring <paramref name="queueId"/>, honouring
    /// the ring's suppression like a burst does (split: EVENT_IDX / NO_INTERRUPT; packed: the driver event area with
    /// or without EVENT_IDX); a suppressed notification still succeeds. Waits for a burst running on the ring. False
    /// when the ring does not exist or is not set up.
    /// </summary>
    public bool VringCall(int queueId)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null) return false;
        using (vq.Hold())
        {
            if (!vq.IsTranslated) return false;
            if (vq.IsPacked)
            {
                PackedBursts.Call(this, vq);
                return true;
            }
            // The used index as the guest sees it: the application may have published entries without a burst.
            // SAFETY: Used was translated with the ring's full used-area length; idx is its second word.
            ushort used = Volatile.Read(ref *(ushort*)(vq.Used + SplitRingLayout.UsedIdxOffset));
            SplitUsedRing.NotifyIfWanted(this, vq, vq.Avail, used, VirtioFeatures.Has(Features, VirtioFeatures.RingEventIdx));
            return true;
        }
    }
}
