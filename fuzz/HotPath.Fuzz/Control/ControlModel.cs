using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Control;

namespace HotPath.Fuzz.Control;

/// <summary>
/// The state of one vhost-user connection as the message rules say it must be, written for clarity: alive or
/// closed, negotiated features, and each vring's num and enable. What the rules cannot predict (a random message, a
/// SET_VRING_NUM whose ring addresses may not fit the new size) is marked uncertain and the model takes the
/// backend's state afterwards, checking only what it can (e.g. that a num is the old one or the new one).
/// <para>Rules: a refused message is nacked and the connection stays when it asked for a reply (REPLY_ACK), else the
/// connection is closed. SET_FEATURES is refused with bits never offered, or when it changes anything but LOG_ALL
/// on a running device. SET_VRING_NUM/ENABLE are refused for a vring index at or beyond 2 x max queue pairs;
/// NUM for 0, above 32768 or (split) not a power of two; ENABLE for a value above 1. Framing lies close.</para>
/// </summary>
internal sealed class ControlModel
{
    public bool Alive = true;
    public ulong Features;
    public bool Running;
    public uint Vrings;
    public ulong Offered;
    /// <summary>Vrings whose num and enable are tracked (the generator's in-range indexes are below this).</summary>
    public const int Tracked = 8;

    public readonly uint[] Num = new uint[Tracked];
    public readonly bool[] Enabled = new bool[Tracked];
    public readonly bool[] AddrSet = new bool[Tracked];

    /// <summary>No accepted message changed the started device since it came up: traffic must flow.</summary>
    public bool Pristine = true;

    /// <summary>Takes the backend's state (at the start, and after what the model cannot predict).</summary>
    public void Resync(VhostSession s)
    {
        Features = s.Device.Features;
        Running = s.IsRunning;
        Vrings = 2 * s.Driver.MaxQueuePairs;
        Offered = s.Driver.Features;
        for (int i = 0; i < Tracked; i++)
        {
            Vring? v = s.Device.GetVring(i);
            Num[i] = v?.Size ?? 0;
            Enabled[i] = v?.Enabled ?? false;
            AddrSet[i] = v?.AddrSet ?? false;
        }
    }

    /// <summary>What the rules say about an op: accepted, refused, or either (null).</summary>
    public bool? Accepts(ControlOp op) => op.Kind switch
    {
        ControlOpKind.SetFeatures =>
            (op.Value & ~Offered) == 0 &&
            (!Running || ((op.Value ^ Features) & ~(1UL << VirtioFeatures.LogAll)) == 0),
        ControlOpKind.SetVringNum =>
            op.Index >= Vrings || Vring.ValidateSize((uint)op.Value, VirtioFeatures.Has(Features, VirtioFeatures.RingPacked)) != VringError.None
                || op.Value > uint.MaxValue
                ? false
                : AddrSet[op.Index] ? null : true,
        ControlOpKind.SetVringEnable => op.Index < Vrings && op.Value <= 1,
        ControlOpKind.Framing or ControlOpKind.HalfThenClose => false,
        _ => null,
    };

    /// <summary>True when the op, accepted, would change nothing the traffic depends on.</summary>
    public bool ChangesNothing(ControlOp op) => op.Kind switch
    {
        ControlOpKind.SetFeatures => op.Value == Features,
        ControlOpKind.SetVringNum => op.Index < 2 && Num[op.Index] == (uint)op.Value,
        ControlOpKind.SetVringEnable => op.Index < 2 && Enabled[op.Index] == (op.Value == 1),
        _ => false,
    };

    /// <summary>Applies an accepted op.</summary>
    public void Apply(ControlOp op)
    {
        switch (op.Kind)
        {
            case ControlOpKind.SetFeatures:
                if (op.Value != Features) Pristine = false;
                Features = op.Value;
                break;
            case ControlOpKind.SetVringNum:
                if (Num[op.Index] != (uint)op.Value) Pristine = false;
                Num[op.Index] = (uint)op.Value;
                break;
            case ControlOpKind.SetVringEnable:
                if (Enabled[op.Index] != (op.Value == 1)) Pristine = false;
                Enabled[op.Index] = op.Value == 1;
                break;
        }
    }

    /// <summary>The first difference between the backend's state and the model's, or null.</summary>
    public string? Difference(VhostSession s)
    {
        if (s.Device.Features != Features) return $"features 0x{s.Device.Features:x}, model 0x{Features:x}";
        for (int i = 0; i < Tracked; i++)
        {
            Vring? v = s.Device.GetVring(i);
            uint num = v?.Size ?? 0;
            bool enabled = v?.Enabled ?? false;
            if (num != Num[i]) return $"vring {i} num {num}, model {Num[i]}";
            if (enabled != Enabled[i]) return $"vring {i} enabled {enabled}, model {Enabled[i]}";
        }
        return null;
    }
}
