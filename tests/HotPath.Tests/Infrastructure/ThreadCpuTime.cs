using System.Runtime.InteropServices;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// CPU time of the calling thread (clock_gettime CLOCK_THREAD_CPUTIME_ID): unlike a Stopwatch it does not count the
/// time the thread waited for a core, so rough in-process comparisons survive a loaded machine better.
/// </summary>
public static unsafe partial class ThreadCpuTime
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, TimeSpec* ts);

    /// <summary>Nanoseconds of CPU this thread has used.</summary>
    public static long Nanoseconds
    {
        get
        {
            TimeSpec ts;
            return ClockGetTime(ClockThreadCpuTimeId, &ts) == 0 ? ts.Seconds * 1_000_000_000 + ts.Nanoseconds : 0;
        }
    }
}
