using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Reads a split-ring descriptor from guest memory exactly once: one 16-byte load into a register, then the
/// fields are taken from that local. Everything the walker validates and uses comes from the local, so a guest
/// rewriting the descriptor meanwhile (SECURITY.md 16) cannot change what was checked.
/// </summary>
internal static unsafe class SplitDescriptor
{
    /// <summary>addr in the low half, len | flags &lt;&lt; 32 | next &lt;&lt; 48 in the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Load(byte* p) => Vector128.Load((ulong*)p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Addr(Vector128<ulong> d) => d.ToScalar();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Meta(Vector128<ulong> d) => d.GetElement(1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Len(ulong meta) => (uint)meta;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Flags(ulong meta) => (ushort)(meta >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Next(ulong meta) => (ushort)(meta >> 48);
}
