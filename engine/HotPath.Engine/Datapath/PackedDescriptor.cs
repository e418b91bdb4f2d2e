namespace HotPath.Engine.Datapath;

/// <summary>
/// Reads a packed-ring descriptor from guest memory exactly once, in the order the ring's ownership protocol needs.
/// The second 8-byte word (len | id &lt;&lt; 32 | flags &lt;&lt; 48) is one acquire load: its flags say whether the
/// driver made the descriptor available, and an aligned 8-byte load is a single snapshot, so len and id (which the
/// driver wrote before it released the flags) come from the same moment. The address is read only after it: a
/// descriptor the flags say is available is never read with an address from before the driver wrote it. Everything
/// validated and used afterwards comes from these two locals (SECURITY.md 16).
/// </summary>
internal static unsafe class PackedDescriptor
{
    private const ushort Ownership = PackedRingLayout.OwnershipMask;

    /// <summary>The descriptor at ring index <paramref name="index"/> of <paramref name="descs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* At(byte* descs, uint index) => descs + ((nuint)index << 4);

    /// <summary>
    /// Acquire load of the descriptor's len | id | flags word: no later read of the descriptor (or of the buffer
    /// behind it) can be satisfied from before the driver's release store of these flags.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadMeta(byte* d) => Volatile.Read(ref *(ulong*)(d + PackedRingLayout.MetaOffset));

    /// <summary>The buffer address; call only after <see cref="ReadMeta"/> said the descriptor is available.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadAddr(byte* d) => *(ulong*)(d + PackedRingLayout.AddrOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Len(ulong meta) => (uint)meta;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Id(ulong meta) => (ushort)(meta >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Flags(ulong meta) => (ushort)(meta >> 48);

    /// <summary>
    /// True when <paramref name="meta"/>'s AVAIL/USED bits are <paramref name="availPattern"/> (see
    /// <see cref="PackedRingLayout.AvailPattern"/>). Any other combination is "not available", never an error.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAvail(ulong meta, uint availPattern) => ((uint)(meta >> 48) & Ownership) == availPattern;

    /// <summary>
    /// Device side of a used write, part 1: the used length and the buffer id, at the ring index the used entry goes
    /// to. The flags that hand the descriptor back follow later as a release store (<see cref="PackedUsedRing"/>);
    /// until then the driver, which reads a used descriptor only after seeing its flags flip, never looks at these.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUsedIdLen(byte* d, ushort id, uint len)
    {
        *(uint*)(d + PackedRingLayout.LenOffset) = len;
        *(ushort*)(d + PackedRingLayout.IdOffset) = id;
    }
}
