using HotPath.Engine.Buffers;

namespace HotPath.Tests.Buffers;

/// <summary>Shared helpers for pool tests: unique names, chains, a hugepage-failure scope.</summary>
internal static unsafe class PoolFixtures
{
    private static int s_seq;

    /// <summary>A unique pool name (tests run in parallel).</summary>
    public static string Name(string what) => $"{what}{Interlocked.Increment(ref s_seq)}";

    /// <summary>Allocates <paramref name="segments"/> mbufs and links them into one packet.</summary>
    public static Mbuf* Chain(Mempool pool, int segments)
    {
        Mbuf* head = pool.Alloc();
        Assert.True(head != null);
        Mbuf* tail = head;
        head->DataLen = 100;
        head->PktLen = 100;
        for (int i = 1; i < segments; i++)
        {
            Mbuf* seg = pool.Alloc();
            Assert.True(seg != null);
            seg->DataLen = 100;
            tail->Next = seg;
            tail = seg;
            head->NbSegs++;
            head->PktLen += 100;
        }
        return head;
    }

    /// <summary>Makes this thread's hugepage mappings fail with <paramref name="errno"/> until disposed.</summary>
    public static IDisposable FailHugepages(int errno)
    {
        PageAllocator.t_failHugepagesWithErrno = errno;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        public void Dispose() => PageAllocator.t_failHugepagesWithErrno = 0;
    }
}
