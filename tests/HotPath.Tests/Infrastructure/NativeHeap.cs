using System.Runtime.InteropServices;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// The C heap's bytes in use (glibc's mallinfo2: uordblks + hblkhd), where NativeMemory.Alloc and AlignedAlloc take
/// their blocks: the async queues' arrays, the copy engine channels' jobs, the vrings' scratch blocks.
/// </summary>
public static class NativeHeap
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Mallinfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc")]
    private static extern Mallinfo2 mallinfo2();

    /// <summary>Bytes allocated and not freed, after a full GC whose finalizers ran (a block only a finalizer frees
    /// is not counted as grown).</summary>
    public static long InUseAfterGc
    {
        get
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Mallinfo2 m = mallinfo2();
            return (long)(m.Uordblks + m.Hblkhd);
        }
    }
}
