using System.Text;
using HotPath.Engine;
using HotPath.Engine.Interop;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Control;

namespace HotPath.Native.Interop;

/// <summary>
/// Argument checks shared by the exports: C strings, socket paths, vids and vring indexes. Each returns false (or
/// null) after recording the reason in <see cref="LastError"/>, so an export is "check, call, return".
/// </summary>
internal static unsafe class Args
{
    /// <summary>Longest C string read from a caller (a socket path is at most 107 bytes; names are shorter).</summary>
    private const int MaxString = 4096;

    /// <summary>A NUL-terminated UTF-8 string; false when it is NULL, unterminated within 4 KiB or not UTF-8.</summary>
    public static bool String(string function, string argument, byte* s, out string value)
    {
        value = "";
        if (s == null)
        {
            LastError.Null(function, argument);
            return false;
        }
        int n = new ReadOnlySpan<byte>(s, MaxString).IndexOf((byte)0);
        if (n < 0)
        {
            LastError.Set(function, $"{argument} is not NUL-terminated within {MaxString} bytes");
            return false;
        }
        try
        {
            value = new UTF8Encoding(false, true).GetString(s, n);
            return true;
        }
        catch (DecoderFallbackException)
        {
            LastError.Set(function, $"{argument} is not valid UTF-8");
            return false;
        }
    }

    /// <summary>The driver registered for the C string <paramref name="path"/>, or null (ENOENT).</summary>
    public static VhostDriver? Driver(string function, byte* path)
    {
        if (!String(function, "path", path, out string p)) return null;
        VhostDriver? d = VhostDriver.Find(p);
        if (d == null) LastError.Set(function, $"{p} is not registered", LibC.ENOENT);
        return d;
    }

    /// <summary>The connection behind <paramref name="vid"/>, or null (ENODEV).</summary>
    public static VhostSession? Session(string function, int vid)
    {
        VhostSession? s = DeviceRegistry.Get(vid);
        if (s == null) LastError.UnknownVid(function, vid);
        return s;
    }

    /// <summary>The vring <paramref name="index"/> of <paramref name="vid"/>, or null (unknown vid or vring).</summary>
    public static Vring? Vring(string function, int vid, int index, out VhostSession? session)
    {
        session = Session(function, vid);
        if (session == null) return null;
        Vring? v = session.Device.GetVring(index);
        if (v == null) LastError.BadQueue(function, vid, index);
        return v;
    }

    /// <summary>Records a NULL out-pointer; false when <paramref name="p"/> is NULL.</summary>
    public static bool NotNull(string function, string argument, void* p)
    {
        if (p != null) return true;
        LastError.Null(function, argument);
        return false;
    }

    /// <summary>The engine device behind <paramref name="vid"/> for the datapath: one array read, no allocation.</summary>
    public static VhostDevice? Device(string function, int vid)
    {
        VhostDevice? d = DeviceRegistry.GetDevice(vid);
        if (d == null) LastError.UnknownVid(function, vid);
        return d;
    }

    /// <summary>Copies <paramref name="value"/> into a caller's buffer of <paramref name="size"/> bytes, NUL-terminated
    /// and cut to fit (on a character boundary).</summary>
    public static void CopyOut(string value, byte* buffer, nuint size)
    {
        if (size == 0) return;
        var dst = new Span<byte>(buffer, (int)Math.Min(size - 1, (nuint)int.MaxValue));
        System.Text.Unicode.Utf8.FromUtf16(value, dst, out _, out int written, replaceInvalidSequences: true);
        buffer[written] = 0;
    }

    /// <summary>A negative errno as DPDK's functions that return one, with the reason recorded.</summary>
    public static int Errno(string function, string message, int errno)
    {
        LastError.Set(function, message, errno);
        return -errno;
    }
}
