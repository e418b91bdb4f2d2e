using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Control;

/// <summary>What one step of a message sequence sends.</summary>
public enum ControlOpKind : byte
{
    /// <summary>SET_FEATURES with <see cref="ControlOp.Value"/> (offered bits, a flip of the current ones, or bits never offered).</summary>
    SetFeatures,
    /// <summary>SET_VRING_NUM vring <see cref="ControlOp.Index"/>, num <see cref="ControlOp.Value"/>.</summary>
    SetVringNum,
    /// <summary>SET_VRING_ENABLE vring <see cref="ControlOp.Index"/>, value <see cref="ControlOp.Value"/>.</summary>
    SetVringEnable,
    /// <summary>A framing lie the backend must close the connection for (<see cref="ControlOp.Index"/> picks which).</summary>
    Framing,
    /// <summary>Any request id 1..43 with random payload bytes (<see cref="ControlOp.Value"/> long) and
    /// <see cref="ControlOp.Fds"/> fds: the model cannot say what it does, only that nothing breaks or leaks.</summary>
    Random,
    /// <summary>Half a message, then the frontend hangs up (ends the sequence).</summary>
    HalfThenClose,
}

/// <summary>
/// One step: a message (with NEED_REPLY when <see cref="NeedReply"/>), then <see cref="Burst"/> packets through the
/// device from the test thread while the backend may still be handling it, then a GET_FEATURES round trip that says
/// whether the connection is alive and lets the state be compared with the model.
/// </summary>
public readonly record struct ControlOp(ControlOpKind Kind, uint Index, ulong Value, bool NeedReply, int Fds, int Burst, int Seed)
{
    public string ToCode() => $"new ControlOp(ControlOpKind.{Kind}, {Index}u, 0x{Value:x}UL, {(NeedReply ? "true" : "false")}, {Fds}, {Burst}, {Seed})";
}

/// <summary>
/// A message-sequence case: an honest frontend connects (and, when <see cref="Start"/>, brings the device up with
/// memory and two split rings of 256), then sends the ops.
/// </summary>
public sealed record ControlCase(bool Start, ControlOp[] Ops) : IFuzzCase
{
    public string ToCode() =>
        $"new ControlCase({(Start ? "true" : "false")}, new ControlOp[]\n            {{\n                {string.Join(",\n                ", Ops.Select(o => o.ToCode()))},\n            }})";

    public override string ToString() => ToCode();

    public bool Equals(ControlCase? other) => other is not null && Start == other.Start && Ops.SequenceEqual(other.Ops);

    public override int GetHashCode() => HashCode.Combine(Start, Ops.Length);
}
