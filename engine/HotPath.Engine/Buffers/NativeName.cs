using System.Text;

namespace HotPath.Engine.Buffers;

/// <summary>Names of pools and rings: validated and stored as NUL-terminated UTF-8 in a fixed header field.</summary>
public static unsafe class NativeName
{
    /// <summary>Why <paramref name="name"/> cannot be stored in <paramref name="size"/> bytes (with its NUL), or null.</summary>
    public static string? Validate(string? name, int size, string what)
    {
        if (name is null) return $"{what} name is null";
        if (name.Length == 0) return $"{what} name is empty";
        if (name.Contains('\0')) return $"{what} name contains a NUL character";
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > size - 1) return $"{what} name \"{name}\" is {bytes} bytes of UTF-8; the maximum is {size - 1}";
        return null;
    }

    /// <summary>Writes a name that passed <see cref="Validate"/> into <paramref name="dest"/> (size bytes, NUL-padded).</summary>
    public static void Write(string name, byte* dest, int size)
    {
        var span = new Span<byte>(dest, size);
        span.Clear();
        int n = Encoding.UTF8.GetBytes(name, span[..(size - 1)]);
        System.Diagnostics.Debug.Assert(n < size);
    }

    /// <summary>Reads a stored name back.</summary>
    public static string Read(byte* src, int size)
    {
        var span = new ReadOnlySpan<byte>(src, size);
        int end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
