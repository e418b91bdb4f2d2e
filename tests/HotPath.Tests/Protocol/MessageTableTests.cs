using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;

namespace HotPath.Tests.Protocol;

/// <summary>The handler table covers what a net backend needs and refuses the rest by design.</summary>
public class MessageTableTests
{
    public static IEnumerable<object[]> Handled =>
        Enumerable.Range(1, 22).Concat(new[] { 24, 25, 28, 29, 30, 31, 32, 34, 36, 37, 38, 39, 40 }).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Handled))]
    public void Every_message_a_net_backend_needs_has_a_handler(int id)
    {
        MessageEntry? e = MessageTable.Find((uint)id);
        Assert.NotNull(e);
        Assert.NotNull(e!.Handler);
        Assert.Equal((FrontendRequest)id, e.Request);
        Assert.False(string.IsNullOrEmpty(e.Name));
    }

    [Theory]
    [InlineData(23)]
    [InlineData(33)]
    [InlineData(35)]
    [InlineData(41)]
    [InlineData(43)]
    public void Known_but_unsupported_messages_are_refused_by_design(int id)
    {
        MessageEntry? e = MessageTable.Find((uint)id);
        Assert.NotNull(e);
        Assert.Null(e!.Handler);
    }

    [Fact]
    public void Crypto_session_messages_have_fixed_sizes_and_need_crypto_session()
    {
        MessageEntry create = MessageTable.Find(26)!, close = MessageTable.Find(27)!;
        Assert.Equal(CryptoSessionPayload.WireSize, create.PayloadSize);
        Assert.Equal(8, close.PayloadSize);
        Assert.All(new[] { create, close }, e =>
        {
            Assert.NotNull(e.Handler);
            Assert.Equal(Needs.ProtocolFeature, e.Needs);
            Assert.Equal(ProtocolFeatures.CryptoSession, e.ProtocolFeature);
        });
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(44u)]
    [InlineData(0xFFFFFFFFu)]
    public void Unknown_ids_have_no_entry(uint id) => Assert.Null(MessageTable.Find(id));

    [Fact]
    public void Capability_messages_require_their_protocol_feature()
    {
        (FrontendRequest r, int bit)[] expected =
        {
            (FrontendRequest.SetLogBase, ProtocolFeatures.LogShmfd), (FrontendRequest.SendRarp, ProtocolFeatures.Rarp),
            (FrontendRequest.NetSetMtu, ProtocolFeatures.NetMtu), (FrontendRequest.SetBackendReqFd, ProtocolFeatures.BackendReq),
            (FrontendRequest.GetConfig, ProtocolFeatures.Config), (FrontendRequest.SetConfig, ProtocolFeatures.Config),
            (FrontendRequest.GetInflightFd, ProtocolFeatures.InflightShmfd), (FrontendRequest.SetInflightFd, ProtocolFeatures.InflightShmfd),
            (FrontendRequest.GetMaxMemSlots, ProtocolFeatures.ConfigureMemSlots), (FrontendRequest.AddMemReg, ProtocolFeatures.ConfigureMemSlots),
            (FrontendRequest.RemMemReg, ProtocolFeatures.ConfigureMemSlots), (FrontendRequest.SetStatus, ProtocolFeatures.Status),
            (FrontendRequest.GetStatus, ProtocolFeatures.Status), (FrontendRequest.GetQueueNum, ProtocolFeatures.Mq),
            (FrontendRequest.ResetDevice, ProtocolFeatures.ResetDevice),
            (FrontendRequest.PostcopyAdvise, ProtocolFeatures.Pagefault), (FrontendRequest.PostcopyListen, ProtocolFeatures.Pagefault),
            (FrontendRequest.PostcopyEnd, ProtocolFeatures.Pagefault),
        };
        foreach (var (r, bit) in expected)
        {
            MessageEntry e = MessageTable.Find((uint)r)!;
            Assert.Equal(Needs.ProtocolFeature, e.Needs);
            Assert.Equal(bit, e.ProtocolFeature);
        }
    }
}
