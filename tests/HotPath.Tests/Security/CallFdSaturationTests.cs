using HotPath.Engine.Interop;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Security;

/// <summary>
/// Issue 11: a frontend whose call eventfd cannot take another write (counter at its maximum, O_NONBLOCK cleared on
/// the shared file description) made the forwarding thread block in write() inside the burst; hp-fwd's
/// destroy_device then joined that thread on the library's control thread and no connection was served again.
/// Against one hp-fwd --mode io: the hostile device keeps being forwarded to, a second device moves traffic at the
/// same time, the hostile device stops cleanly, and a third device is served afterwards.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class CallFdSaturationTests(ITestOutputHelper output)
{
    /// <summary>Makes the next write of 1 to <paramref name="fd"/> block: counter at 0xffff_ffff_ffff_fffe and the
    /// file description blocking (the frontend shares it with the backend).</summary>
    private static void Saturate(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        Assert.True(flags >= 0);
        Assert.Equal(0, LibC.fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK));
        ulong max = 0xffff_ffff_ffff_fffeUL;
        Assert.Equal(8, (int)LibC.write(fd, &max, 8));
    }

    [Fact]
    public void A_saturated_blocking_call_eventfd_stalls_no_device_and_no_control_plane()
    {
        using var child = ChildBackend.StartFwd("callfd", "io", out string socket);

        var hostile = EchoDevice.Open(socket);
        using var honest = EchoDevice.Open(socket);
        // Interrupts on: every burst on the hostile device wants to write its call fds.
        hostile.Rx.EnableInterrupts();
        hostile.Tx.EnableInterrupts();
        foreach (var n in hostile.Frontend.Notifiers) Saturate(n.CallFd);

        for (int round = 0; round < 20; round++)
        {
            Assert.Equal(64, hostile.Echo(64));   // forwarded although no notification can be delivered
            Assert.Equal(64, honest.Echo(64));
        }
        // Stopping it runs destroy_device on the control thread, which joins the hostile device's worker.
        int from = child.Output.Count;
        hostile.Dispose();
        Assert.NotNull(child.WaitForLineAfter(from, "destroy_device vid=", TimeSpan.FromSeconds(10)));
        Assert.Equal(64, honest.Echo(64));
        using (var third = EchoDevice.Open(socket)) Assert.Equal(64, third.Echo(64));
        output.WriteLine(string.Join('\n', child.Output.TakeLast(8)));
        Assert.DoesNotContain(child.Output, l => l.Contains("did not stop", StringComparison.Ordinal));
    }
}
