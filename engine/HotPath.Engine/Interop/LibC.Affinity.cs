namespace HotPath.Engine.Interop;

/// <summary>CPU affinity (the built-in copy engine's optional pinning).</summary>
public static unsafe partial class LibC
{
    /// <summary>sched_setaffinity(2): pid 0 is the calling thread.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    /// <summary>Pins the calling thread to <paramref name="cpu"/> (0..1023). Returns 0, or -1 with errno set.</summary>
    public static int PinCurrentThread(int cpu)
    {
        if ((uint)cpu >= 1024) return -1;
        ulong* mask = stackalloc ulong[16];
        for (int i = 0; i < 16; i++) mask[i] = 0;
        mask[cpu >> 6] = 1UL << (cpu & 63);
        return sched_setaffinity(0, 16 * sizeof(ulong), mask);
    }
}
