using System.Numerics;
using System.Security.Cryptography;

namespace HotPath.Tests.Crypto;

/// <summary>Independent answers for the request tests: .NET's one-shot AES-CBC, AES-ECB on BigInteger counters for
/// CTR, and the one-shot HMACs.</summary>
internal static class CryptoReference
{
    public static byte[] Cbc(byte[] key, byte[] iv, byte[] data, bool encrypt)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        return encrypt ? aes.EncryptCbc(data, iv, PaddingMode.None) : aes.DecryptCbc(data, iv, PaddingMode.None);
    }

    public static byte[] Ctr(byte[] key, byte[] iv, byte[] data)
    {
        int blocks = (data.Length + 15) / 16;
        var counters = new byte[blocks * 16];
        var start = new BigInteger(iv, isUnsigned: true, isBigEndian: true);
        for (int b = 0; b < blocks; b++)
        {
            byte[] c = ((start + b) % (BigInteger.One << 128)).ToByteArray(isUnsigned: true, isBigEndian: true);
            c.CopyTo(counters, b * 16 + 16 - c.Length);
        }
        using var aes = Aes.Create();
        aes.Key = key;
        byte[] stream = aes.EncryptEcb(counters, PaddingMode.None);
        return data.Select((x, i) => (byte)(x ^ stream[i])).ToArray();
    }

    public static byte[] Mac(uint algo, byte[] key, ReadOnlySpan<byte> data, int len) =>
        (algo == CryptoSessionsAlgo.HmacSha1 ? HMACSHA1.HashData(key, data) : HMACSHA256.HashData(key, data))[..len];
}

internal static class CryptoSessionsAlgo
{
    public const uint HmacSha1 = HotPath.Frontend.VhostUser.CryptoSessions.HmacSha1;
}
