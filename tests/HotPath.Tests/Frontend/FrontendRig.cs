using HotPath.Frontend.Memory;

namespace HotPath.Tests.Frontend;

/// <summary>Shared set-up of the frontend tests.</summary>
internal static class FrontendRig
{
    /// <summary>Two 4 MiB memfd regions (rings land in the first).</summary>
    public static FrontendMemory Memory() => FrontendMemory.Create(new ulong[] { 4 << 20, 4 << 20 });

    /// <summary>
    /// Open fds of this process, after a full GC and finalizers so that handles other tests dropped earlier are not
    /// counted one time and not the next.
    /// </summary>
    public static int OpenFds()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Infrastructure.ProcessResources.OpenFds;
    }

    /// <summary>A socket path under /tmp unique to this test run.</summary>
    public static string SocketPath(string tag) => Infrastructure.DpdkBackend.NewSocketPath(tag);

    public static readonly TimeSpan Connect = TimeSpan.FromSeconds(5);
}
