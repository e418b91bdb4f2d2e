using HotPath.Fuzz.Core;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

// The vocabulary of a packed-ring fuzz case. Buffers (BufSpec), net headers (HeaderSpec), packets (PacketSpec), chain
// forms (ChainForm) and features (SplitFeatures) are shared with the split cases; the lies are the packed ring's own.

/// <summary>A lie about one descriptor of a packed chain.</summary>
public enum PackedDescFault : byte
{
    None,
    /// <summary>The WRITE flag is the wrong way for the queue (writable on TX, readable on RX).</summary>
    WrongDirection,
    /// <summary>INDIRECT on a descriptor of a multi-descriptor chain (with NEXT on the head, nested further on).</summary>
    Indirect,
    /// <summary>NEXT set on the chain's last descriptor: the chain runs into whatever the ring holds next.</summary>
    DanglingNext,
    /// <summary>The descriptor's AVAIL/USED bits are one of the three wrong combinations for its lap (wrap counter
    /// confusion); the guest repairs them before its next post.</summary>
    WrongWrap,
}

/// <summary>One descriptor of a packed chain.</summary>
public readonly record struct PackedDescSpec(BufSpec Buf, PackedDescFault Fault = PackedDescFault.None)
{
    public string ToCode() => Fault == PackedDescFault.None ? $"new PackedDescSpec({Buf.ToCode()})" : $"new PackedDescSpec({Buf.ToCode()}, PackedDescFault.{Fault})";
}

/// <summary>A lie about a packed chain as a whole.</summary>
public enum PackedChainFault : byte
{
    None,
    /// <summary>The buffer id of a chain still outstanding (the device must just hand it back).</summary>
    DuplicateId,
    /// <summary>Indirect head with NEXT set too.</summary>
    IndirectWithNext,
    /// <summary>Indirect table length 0.</summary>
    IndirectLenZero,
    /// <summary>Indirect table length not a multiple of 16.</summary>
    IndirectLenOdd,
    /// <summary>Indirect table with more entries than the ring has.</summary>
    IndirectTooLarge,
    /// <summary>Indirect table address outside memory.</summary>
    IndirectOutside,
    /// <summary>An indirect table entry with INDIRECT.</summary>
    IndirectNested,
}

/// <summary>One chain the guest posts on a packed ring.</summary>
public sealed record PackedChainSpec(PackedDescSpec[] Descs, ChainForm Form = ChainForm.Direct,
    PackedChainFault Fault = PackedChainFault.None, HeaderSpec Header = default)
{
    public string ToCode() =>
        $"new PackedChainSpec(new[] {{ {string.Join(", ", Descs.Select(d => d.ToCode()))} }}, ChainForm.{Form}, PackedChainFault.{Fault}, {Header.ToCode()})";

    public bool Equals(PackedChainSpec? other) =>
        other is not null && Descs.SequenceEqual(other.Descs) && Form == other.Form && Fault == other.Fault && Header == other.Header;

    public override int GetHashCode() => HashCode.Combine(Descs.Length, Form, Fault, Header);
}

/// <summary>
/// One step: the guest repairs any flags it left wrong, posts chains on the TX (dequeue) or RX (enqueue) ring, then
/// the device runs one burst of at most <see cref="Burst"/> packets (dequeue) or of <see cref="Packets"/> (enqueue).
/// </summary>
public sealed record PackedStep(bool Tx, PackedChainSpec[] Chains, int Burst, PacketSpec[] Packets) : IRingStep
{
    public string ToCode() =>
        $"new PackedStep({(Tx ? "true" : "false")}, new PackedChainSpec[] {{ {string.Join(", ", Chains.Select(c => c.ToCode()))} }}, {Burst}, " +
        $"new PacketSpec[] {{ {string.Join(", ", Packets.Select(p => p.ToCode()))} }})";

    public bool Equals(PackedStep? other) =>
        other is not null && Tx == other.Tx && Chains.SequenceEqual(other.Chains) && Burst == other.Burst && Packets.SequenceEqual(other.Packets);

    public override int GetHashCode() => HashCode.Combine(Tx, Chains.Length, Burst, Packets.Length);
}

/// <summary>
/// A whole packed case: ring size (any 1..32768 is legal on a packed ring; small sizes wrap often), the position both
/// cursors start at (index and wrap counter), features, the guest memory layout and the steps.
/// </summary>
public sealed record PackedCase(uint RingSize, ushort StartIndex, bool StartWrap, SplitFeatures Features, int Regions,
    bool Contiguous, PackedStep[] Steps) : IFuzzCase
{
    public string ToCode() =>
        $"new PackedCase({RingSize}u, {StartIndex}, {(StartWrap ? "true" : "false")}, (SplitFeatures){(int)Features}, {Regions}, {(Contiguous ? "true" : "false")}, " +
        $"new PackedStep[]\n            {{\n                {string.Join(",\n                ", Steps.Select(s => s.ToCode()))},\n            }})";

    public override string ToString() => ToCode();

    public bool Equals(PackedCase? other) =>
        other is not null && RingSize == other.RingSize && StartIndex == other.StartIndex && StartWrap == other.StartWrap &&
        Features == other.Features && Regions == other.Regions && Contiguous == other.Contiguous && Steps.SequenceEqual(other.Steps);

    public override int GetHashCode() => HashCode.Combine(RingSize, StartIndex, StartWrap, Features, Regions, Contiguous, Steps.Length);
}
