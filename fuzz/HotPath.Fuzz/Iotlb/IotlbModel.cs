using HotPath.Engine.Iommu;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// The reference model of an IOTLB: a byte-range map, byte by byte, of two windows of the IOVA space (every update the
/// generators make that the backend must accept lies inside one of them; everything outside is unmapped). Per byte:
/// the access rights (0: unmapped) and the frontend virtual address. An update overwrites its bytes, an invalidation
/// clears them; lookups walk the bytes in order. It knows nothing of entries, splits or bounds: that is the cache's
/// business, checked against it.
/// </summary>
public sealed class IotlbModel
{
    /// <summary>Bytes in each window.</summary>
    public const ulong Window = 8192;
    /// <summary>The low window starts here; the top window holds the last bytes of the space (mappings ending at 2^64-1).</summary>
    public const ulong LowBase = 0x10_0000, TopBase = ulong.MaxValue - Window + 1;

    private readonly byte[] _perm = new byte[2 * Window];
    private readonly ulong[] _user = new ulong[2 * Window];

    /// <summary>The window bases, for walking every byte the model holds.</summary>
    public static readonly ulong[] Bases = { LowBase, TopBase };

    private static int Slot(ulong iova) =>
        iova - LowBase < Window ? (int)(iova - LowBase) : iova >= TopBase ? (int)(Window + (iova - TopBase)) : -1;

    /// <summary>True when [iova, iova + size) lies inside one window.</summary>
    public static bool InWindow(ulong iova, ulong size) =>
        size != 0 && Bases.Any(b => iova - b < Window && size <= Window - (iova - b));

    public byte Perm(ulong iova)
    {
        int s = Slot(iova);
        return s < 0 ? (byte)0 : _perm[s];
    }

    /// <summary>The user address of a mapped byte.</summary>
    public ulong User(ulong iova) => _user[Slot(iova)];

    /// <summary>Bytes mapped.</summary>
    public ulong MappedBytes => (ulong)_perm.Count(p => p != 0);

    public void Map(ulong iova, ulong size, ulong user, byte perm)
    {
        Expect.True(InWindow(iova, size), $"generator bug: an accepted update at 0x{iova:x} size 0x{size:x} outside the model's windows");
        for (ulong k = 0; k < size; k++)
        {
            int s = Slot(iova + k);
            _perm[s] = perm;
            _user[s] = user + k;
        }
    }

    /// <summary>Clears [first, last] (inclusive; its bytes outside the windows were unmapped already).</summary>
    public void Unmap(ulong first, ulong last)
    {
        foreach (ulong b in Bases)
        {
            ulong lo = Math.Max(first, b), hi = Math.Min(last, b + (Window - 1));
            if (lo > hi) continue;
            for (ulong a = lo; ; a++)
            {
                _perm[Slot(a)] = 0;
                if (a == hi) break;   // hi may be 2^64-1
            }
        }
    }

    /// <summary>What a lookup of [iova, iova + len) with <paramref name="perm"/> must answer (IotlbCache.Translate's contract).</summary>
    public IotlbLookup Translate(ulong iova, ulong len, byte perm, out ulong user, out ulong miss)
    {
        user = 0;
        miss = iova;
        if (len == 0 || iova > ulong.MaxValue - (len - 1)) return IotlbLookup.NotContiguous;
        for (ulong k = 0; k < len; k++)
        {
            ulong b = iova + k;
            byte p = Perm(b);
            if (p == 0)
            {
                miss = b;
                return IotlbLookup.Miss;
            }
            if ((p & perm) != perm) return IotlbLookup.Denied;
            if (k == 0) user = User(b);
            else if (User(b) != user + k) return IotlbLookup.NotContiguous;
        }
        return IotlbLookup.Hit;
    }

    /// <summary>
    /// Why the backend must refuse <paramref name="op"/> at the door (vhost-user spec, SECURITY.md 23), or null when it
    /// must apply it. <paramref name="inRegion"/> says whether a user range lies inside one memory region.
    /// </summary>
    public static string? Refusal(IotlbOp op, ulong user, Func<ulong, ulong, bool> inRegion)
    {
        switch (op.Type)
        {
            case IotlbOp.Update:
                if (op.Size == 0) return "update of size 0";
                if (op.Iova > ulong.MaxValue - (op.Size - 1)) return "update whose iova range wraps";
                if (user > ulong.MaxValue - (op.Size - 1)) return "update whose user range wraps";
                if (op.Perm is < 1 or > 3) return $"update with perm {op.Perm}";
                if (!inRegion(user, op.Size)) return "update outside every memory region";
                return null;
            case IotlbOp.Invalidate:
                if (op.Size == 0) return "invalidation of size 0";
                if (op.Iova > ulong.MaxValue - (op.Size - 1)) return "invalidation whose range wraps";
                return null;
            default:
                return $"message type {op.Type}";
        }
    }

    /// <summary>An invalidation that wraps is refused, yet nothing may stay mapped from its iova on (the backend clears to the end).</summary>
    public static bool InvalidatesToTheEnd(IotlbOp op) =>
        op.Type == IotlbOp.Invalidate && op.Size != 0 && op.Iova > ulong.MaxValue - (op.Size - 1);

    /// <summary>Applies what the backend must do with <paramref name="op"/> (nothing for a refusal, but see <see cref="InvalidatesToTheEnd"/>).</summary>
    public void Apply(IotlbOp op, ulong user, string? refusal)
    {
        if (InvalidatesToTheEnd(op)) Unmap(op.Iova, ulong.MaxValue);
        if (refusal != null) return;
        if (op.Type == IotlbOp.Update) Map(op.Iova, op.Size, user, op.Perm);
        else Unmap(op.Iova, op.Iova + (op.Size - 1));
    }
}
