namespace HotPath.Engine.Datapath;

/// <summary>
/// Reads a split-ring descriptor from guest memory exactly once: its two 8-byte halves (addr; len | flags &lt;&lt; 32 |
/// next &lt;&lt; 48) are each loaded once into locals, and every field is then taken from those locals. Everything
/// the walker validates and uses comes from them, so a guest rewriting the descriptor meanwhile (SECURITY.md 16)
/// cannot change what was checked. The loads are volatile so the compiler can neither repeat nor drop them.
/// </summary>
internal static unsafe class SplitDescriptor
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Read(byte* p, out ulong addr, out ulong meta)
    {
        meta = Volatile.Read(ref *(ulong*)(p + 8));
        addr = Volatile.Read(ref *(ulong*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Len(ulong meta) => (uint)meta;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Flags(ulong meta) => (ushort)(meta >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Next(ulong meta) => (ushort)(meta >> 48);
}
