using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Migration;

/// <summary>
/// What the guest knows the device wrote, as the pages a correct dirty log must hold: the bytes each RX used entry
/// says were written into its buffer (header and data), and the used-ring entries and used.idx of both rings.
/// Nothing else is written by the device: TX buffers, descriptor tables and avail rings must stay clean.
/// </summary>
internal sealed class DirtyLogModel
{
    private readonly SplitRingDriver _rx;
    private readonly IReadOnlyList<RingAreas> _rings;
    private readonly ushort[] _usedSeen;

    public HashSet<ulong> Pages { get; } = new();

    public DirtyLogModel(SplitRingDriver rx, IReadOnlyList<RingAreas> rings)
    {
        _rx = rx;
        _rings = rings;
        _usedSeen = new ushort[rings.Count];
    }

    /// <summary>Starts counting from the rings' current used indexes (what was written before is not expected).</summary>
    public unsafe void Restart(FrontendMemory memory)
    {
        Pages.Clear();
        for (int i = 0; i < _rings.Count; i++) _usedSeen[i] = UsedIdx(memory, _rings[i]);
    }

    /// <summary>An RX used entry: the first <paramref name="len"/> bytes of buffer <paramref name="id"/> (one-descriptor chains).</summary>
    public void RxUsed(uint id, uint len) => AddRange(_rx.Buffers.Gpa(id), len);

    /// <summary>The used entries published since the last call, and used.idx, of every ring.</summary>
    public unsafe void UsedRings(FrontendMemory memory)
    {
        for (int i = 0; i < _rings.Count; i++)
        {
            RingAreas r = _rings[i];
            ushort now = UsedIdx(memory, r);
            for (ushort k = _usedSeen[i]; k != now; k++)
                AddRange(r.DeviceAreaGpa + SplitRingLayout.UsedRingOffset + 8UL * (k & (r.Size - 1)), 8);
            if (now != _usedSeen[i]) AddRange(r.DeviceAreaGpa + SplitRingLayout.UsedIdxOffset, 2);
            _usedSeen[i] = now;
        }
    }

    private void AddRange(ulong gpa, ulong len)
    {
        if (len == 0) return;
        for (ulong p = gpa >> 12; p <= (gpa + len - 1) >> 12; p++) Pages.Add(p);
    }

    private static unsafe ushort UsedIdx(FrontendMemory memory, RingAreas r) =>
        Volatile.Read(ref *(ushort*)(memory.Host(r.DeviceAreaGpa) + SplitRingLayout.UsedIdxOffset));
}
