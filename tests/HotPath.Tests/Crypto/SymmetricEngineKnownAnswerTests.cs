using System.Security.Cryptography;
using System.Text;
using HotPath.Engine.Crypto;

namespace HotPath.Tests.Crypto;

/// <summary>
/// The built-in crypto engine against published known answers: NIST SP 800-38A appendix F (AES-CBC and AES-CTR at
/// 128, 192 and 256 bits), RFC 4231 (HMAC-SHA256, including a key longer than the block and a truncated output) and
/// RFC 2202 (HMAC-SHA1). Also CTR's 128-bit counter carry and partial blocks against .NET's own AES-ECB, and the
/// allocation budget: 0 bytes per operation once the engine exists.
/// </summary>
public sealed class SymmetricEngineKnownAnswerTests
{
    private const string Plain =
        "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
        "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710";
    private const string Key128 = "2b7e151628aed2a6abf7158809cf4f3c";
    private const string Key192 = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
    private const string Key256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    private const string CbcIv = "000102030405060708090a0b0c0d0e0f";
    private const string CtrIv = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    private static byte[] Hex(string s) => Convert.FromHexString(s);

    private static SymmetricEngine Engine(string key, uint mac = VirtioCrypto.NoMac, byte[]? macKey = null) =>
        new(Hex(key), mac, macKey ?? []);

    [Theory]
    [InlineData(Key128, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")]
    [InlineData(Key192, "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd")]
    [InlineData(Key256, "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")]
    public void Aes_cbc_matches_sp800_38a(string key, string cipher)
    {
        using SymmetricEngine e = Engine(key);
        byte[] buf = new byte[8 + 64];
        Hex(Plain).CopyTo(buf, 8);
        e.CbcEncrypt(buf, 8, 64, Hex(CbcIv));
        Assert.Equal(cipher, Convert.ToHexStringLower(buf, 8, 64));
        e.CbcDecrypt(buf, 8, 64, Hex(CbcIv), new byte[64]);
        Assert.Equal(Plain, Convert.ToHexStringLower(buf, 8, 64));
    }

    [Fact]
    public void Consecutive_cbc_requests_with_their_own_ivs_on_one_engine_match_dotnet()
    {
        // The CBC transforms chain from their last block; every request must still start from its own IV.
        var rnd = new Random(9);
        byte[] key = Hex(Key256);
        using SymmetricEngine e = new(key, VirtioCrypto.NoMac, []);
        using var aes = Aes.Create();
        aes.Key = key;
        byte[] work = new byte[4096];
        for (int i = 0; i < 50; i++)
        {
            byte[] data = new byte[16 * rnd.Next(1, 256)], iv = new byte[16];
            rnd.NextBytes(data);
            rnd.NextBytes(iv);
            byte[] buf = (byte[])data.Clone();
            if (i % 3 == 2)
            {
                e.CbcDecrypt(buf, 0, buf.Length, iv, work);
                Assert.Equal(aes.DecryptCbc(data, iv, PaddingMode.None), buf);
            }
            else
            {
                e.CbcEncrypt(buf, 0, buf.Length, iv);
                Assert.Equal(aes.EncryptCbc(data, iv, PaddingMode.None), buf);
            }
        }
    }

    [Theory]
    [InlineData(Key128, "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")]
    [InlineData(Key192, "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e941e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050")]
    [InlineData(Key256, "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6")]
    public void Aes_ctr_matches_sp800_38a_both_ways(string key, string cipher)
    {
        using SymmetricEngine e = Engine(key);
        byte[] buf = Hex(Plain);
        e.Ctr(buf, 0, 64, Hex(CtrIv), new byte[64]);
        Assert.Equal(cipher, Convert.ToHexStringLower(buf));
        e.Ctr(buf, 0, 64, Hex(CtrIv), new byte[64]);
        Assert.Equal(Plain, Convert.ToHexStringLower(buf));
    }

    [Theory]
    [InlineData("00000000000000000000000000000000", 5)]
    [InlineData("0000000000000000fffffffffffffffe", 70)]     // the low 64 bits carry into the high ones
    [InlineData("ffffffffffffffffffffffffffffffff", 33)]     // the whole counter wraps to 0
    public void Aes_ctr_counts_as_one_128_bit_big_endian_integer_and_cuts_the_last_block(string iv, int len)
    {
        byte[] key = Hex(Key128), data = new byte[len];
        new Random(len).NextBytes(data);
        // Reference: the counter blocks built with BigInteger and encrypted by .NET's one-shot AES-ECB.
        int blocks = (len + 15) / 16;
        var counters = new byte[blocks * 16];
        var start = new System.Numerics.BigInteger(Hex(iv), isUnsigned: true, isBigEndian: true);
        var mod = System.Numerics.BigInteger.One << 128;
        for (int b = 0; b < blocks; b++)
        {
            byte[] c = ((start + b) % mod).ToByteArray(isUnsigned: true, isBigEndian: true);
            c.CopyTo(counters, b * 16 + 16 - c.Length);
        }
        using var aes = Aes.Create();
        aes.Key = key;
        byte[] stream = aes.EncryptEcb(counters, PaddingMode.None);
        byte[] expected = data.Select((x, i) => (byte)(x ^ stream[i])).ToArray();

        using SymmetricEngine e = new(key, VirtioCrypto.NoMac, []);
        byte[] buf = (byte[])data.Clone();
        e.Ctr(buf, 0, len, Hex(iv), new byte[blocks * 16]);
        Assert.Equal(expected, buf);
    }

    [Theory]
    // RFC 4231 test cases 1, 2, 5 (truncated to 128 bits) and 6 (131-byte key).
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData("4a656665", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")]
    [InlineData("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation", "a3b6167473100ee06e0c796c2955552b")]
    [InlineData("aa*131", "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    public void Hmac_sha256_matches_rfc4231(string key, string data, string mac) =>
        CheckMac(VirtioCrypto.MacHmacSha256, key, data, mac);

    [Theory]
    // RFC 2202 test cases 1, 2 and 6 (80-byte key).
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00")]
    [InlineData("4a656665", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")]
    [InlineData("aa*80", "Test Using Larger Than Block-Size Key - Hash Key First", "aa4ae5e15272d00e95705637ce8a3b55ed402112")]
    public void Hmac_sha1_matches_rfc2202(string key, string data, string mac) =>
        CheckMac(VirtioCrypto.MacHmacSha1, key, data, mac);

    private static void CheckMac(uint algo, string key, string data, string mac)
    {
        byte[] k = key.StartsWith("aa*") ? Enumerable.Repeat((byte)0xaa, int.Parse(key[3..])).ToArray() : Hex(key);
        using SymmetricEngine e = new(Hex(Key128), algo, k);
        byte[] digest = new byte[mac.Length / 2];
        for (int round = 0; round < 2; round++)   // the HMAC resets after each use
        {
            e.Mac(Encoding.ASCII.GetBytes(data), digest);
            Assert.Equal(mac, Convert.ToHexStringLower(digest));
        }
    }

    [Fact]
    public void Operations_allocate_nothing_once_the_engine_exists()
    {
        using SymmetricEngine e = new(Hex(Key256), VirtioCrypto.MacHmacSha256, new byte[64]);
        byte[] buf = new byte[4096], work = new byte[4096], iv = new byte[16], digest = new byte[32];
        void Round()
        {
            e.CbcEncrypt(buf, 0, 4096, iv);
            e.CbcDecrypt(buf, 0, 4096, iv, work);
            e.Ctr(buf, 0, 4000, iv, work);
            e.Mac(buf, digest);
        }
        for (int i = 0; i < 10; i++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
