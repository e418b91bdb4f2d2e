using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Split;

// The vocabulary of a split-ring fuzz case: what the guest posts, how it lies, and what the device is asked to do.
// Everything is a plain record with a C# printer (ToCode), so a shrunk counterexample becomes a regression test.

/// <summary>Where a descriptor's buffer lies in guest physical space (the runner turns it into an address).</summary>
public enum BufKind : byte
{
    /// <summary>Inside the data area, disjoint from every buffer still posted.</summary>
    Data,
    /// <summary>Straddles a region boundary: two pieces when the regions are contiguous, else partly unmapped.</summary>
    Crossing,
    /// <summary>Starts in the last region and runs past its end.</summary>
    PastEnd,
    /// <summary>Starts in the gap after region 0 (unmapped when the regions have gaps).</summary>
    Gap,
    /// <summary>Below every region.</summary>
    Below,
    /// <summary>gpa + len wraps around 2^64.</summary>
    WrapAround,
    /// <summary>gpa 0: legal only for a zero-length descriptor, whose address is never looked at.</summary>
    Null,
}

/// <summary>A guest buffer: where, how long, and an offset that misaligns it.</summary>
public readonly record struct BufSpec(BufKind Kind, uint Len, byte Misalign = 0)
{
    public string ToCode() => $"new BufSpec(BufKind.{Kind}, {Len}u, {Misalign})";
}

/// <summary>A lie about one descriptor's flags or next field.</summary>
public enum DescFault : byte
{
    None,
    /// <summary>The WRITE flag is the wrong way for the queue (writable on TX, readable on RX).</summary>
    WrongDirection,
    /// <summary>INDIRECT on a descriptor that is not a head in the ring (nested, or mid-chain).</summary>
    Indirect,
    /// <summary>NEXT set and next at or beyond the end of its table.</summary>
    NextOutOfRange,
    /// <summary>NEXT set and next pointing back at the chain's first descriptor (a loop).</summary>
    NextLoop,
}

/// <summary>One descriptor of a chain.</summary>
public readonly record struct DescSpec(BufSpec Buf, DescFault Fault = DescFault.None)
{
    public string ToCode() => Fault == DescFault.None ? $"new DescSpec({Buf.ToCode()})" : $"new DescSpec({Buf.ToCode()}, DescFault.{Fault})";
}

/// <summary>How a chain's descriptors are laid out.</summary>
public enum ChainForm : byte
{
    /// <summary>In the ring's descriptor table.</summary>
    Direct,
    /// <summary>In an indirect table behind one ring descriptor.</summary>
    Indirect,
    /// <summary>In an indirect table that straddles a region boundary (read entry by entry).</summary>
    IndirectCrossing,
}

/// <summary>A lie about the chain as a whole.</summary>
public enum ChainFault : byte
{
    None,
    /// <summary>The avail entry names a descriptor beyond the table.</summary>
    HeadOutOfRange,
    /// <summary>The avail entry is pushed twice.</summary>
    DuplicateHead,
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
}

/// <summary>The virtio-net header a TX chain starts with.</summary>
public readonly record struct HeaderSpec(byte Flags = 0, byte GsoType = 0, ushort GsoSize = 0, ushort CsumStart = 0, ushort CsumOffset = 0)
{
    public static readonly HeaderSpec Plain = default;

    public string ToCode() => this == Plain ? "HeaderSpec.Plain"
        : $"new HeaderSpec({Flags}, {GsoType}, {GsoSize}, {CsumStart}, {CsumOffset})";
}

/// <summary>One chain the guest posts.</summary>
public sealed record ChainSpec(DescSpec[] Descs, ChainForm Form = ChainForm.Direct, ChainFault Fault = ChainFault.None,
    HeaderSpec Header = default, bool IndirectHeadWritable = false)
{
    public string ToCode() =>
        $"new ChainSpec(new[] {{ {string.Join(", ", Descs.Select(d => d.ToCode()))} }}, ChainForm.{Form}, ChainFault.{Fault}, " +
        $"{Header.ToCode()}, {(IndirectHeadWritable ? "true" : "false")})";

    public bool Equals(ChainSpec? other) =>
        other is not null && Descs.SequenceEqual(other.Descs) && Form == other.Form && Fault == other.Fault &&
        Header == other.Header && IndirectHeadWritable == other.IndirectHeadWritable;

    public override int GetHashCode() => HashCode.Combine(Descs.Length, Form, Fault, Header);
}

/// <summary>A packet the host enqueues: its length and the data length of each mbuf segment.</summary>
public readonly record struct PacketSpec(uint Len, ushort SegmentData = 2048)
{
    public string ToCode() => $"new PacketSpec({Len}u, {SegmentData})";
}

/// <summary>
/// One step: the guest posts chains on the TX (dequeue) or RX (enqueue) ring, publishes its avail index
/// (<see cref="AvailExtra"/> beyond what it wrote: stale entries, or a jump past the ring size), then the device runs
/// one burst of at most <see cref="Burst"/> packets (dequeue) or of <see cref="Packets"/> (enqueue).
/// </summary>
public sealed record Step(bool Tx, ChainSpec[] Chains, int Burst, PacketSpec[] Packets, ushort AvailExtra = 0) : IRingStep
{
    public string ToCode() =>
        $"new Step({(Tx ? "true" : "false")}, new ChainSpec[] {{ {string.Join(", ", Chains.Select(c => c.ToCode()))} }}, {Burst}, " +
        $"new PacketSpec[] {{ {string.Join(", ", Packets.Select(p => p.ToCode()))} }}, {AvailExtra})";

    public bool Equals(Step? other) =>
        other is not null && Tx == other.Tx && Chains.SequenceEqual(other.Chains) && Burst == other.Burst &&
        Packets.SequenceEqual(other.Packets) && AvailExtra == other.AvailExtra;

    public override int GetHashCode() => HashCode.Combine(Tx, Chains.Length, Burst, Packets.Length, AvailExtra);
}

/// <summary>Negotiated features that change what the datapath does.</summary>
[Flags]
public enum SplitFeatures : byte
{
    None = 0,
    /// <summary>VIRTIO_F_VERSION_1: 12-byte header (else 10 unless MRG_RXBUF).</summary>
    Version1 = 1,
    /// <summary>VIRTIO_NET_F_MRG_RXBUF: a packet may take several RX chains.</summary>
    Mergeable = 2,
    /// <summary>VIRTIO_NET_F_CSUM and HOST_TSO4/6: TX headers asking for offloads are checked and honoured.</summary>
    Offloads = 4,
    /// <summary>VIRTIO_RING_F_EVENT_IDX: the device leaves used.flags at 0.</summary>
    EventIdx = 8,
}

/// <summary>
/// A whole case: the rings (size, start index of the free-running counters, features), the guest memory layout
/// (1-3 regions of 2 MiB, contiguous or with gaps) and the steps.
/// </summary>
public sealed record SplitCase(uint RingSize, ushort StartIndex, SplitFeatures Features, int Regions, bool Contiguous, Step[] Steps)
    : IFuzzCase
{
    public string ToCode() =>
        $"new SplitCase({RingSize}u, {StartIndex}, (SplitFeatures){(int)Features}, {Regions}, {(Contiguous ? "true" : "false")}, " +
        $"new Step[]\n            {{\n                {string.Join(",\n                ", Steps.Select(s => s.ToCode()))},\n            }})";

    public override string ToString() => ToCode();

    public bool Equals(SplitCase? other) =>
        other is not null && RingSize == other.RingSize && StartIndex == other.StartIndex && Features == other.Features &&
        Regions == other.Regions && Contiguous == other.Contiguous && Steps.SequenceEqual(other.Steps);

    public override int GetHashCode() => HashCode.Combine(RingSize, StartIndex, Features, Regions, Contiguous, Steps.Length);

}
