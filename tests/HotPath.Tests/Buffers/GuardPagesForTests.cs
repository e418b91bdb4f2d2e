using System.Runtime.CompilerServices;
using HotPath.Engine.Buffers;

namespace HotPath.Tests.Buffers;

/// <summary>Every pool and ring the tests create sits between PROT_NONE guard pages: an overrun faults at once.</summary>
internal static class GuardPagesForTests
{
#pragma warning disable CA2255 // a test assembly is exactly where a module initializer belongs
    [ModuleInitializer]
    internal static void TurnOn() => PageAllocator.GuardPages = true;
#pragma warning restore CA2255
}
