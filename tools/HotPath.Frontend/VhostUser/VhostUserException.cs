using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>Why a frontend request failed. Every value but <see cref="Nack"/> leaves the connection broken.</summary>
public enum VhostUserFailure
{
    /// <summary>sendmsg failed (peer gone, or the send timed out because the peer stopped reading).</summary>
    SendFailed,
    /// <summary>No reply (or no complete reply) arrived within the reply timeout.</summary>
    Timeout,
    /// <summary>The backend closed the connection instead of replying.</summary>
    Closed,
    /// <summary>The reply was malformed: bad flags, wrong request id, wrong size, unexpected or missing fds.</summary>
    MalformedReply,
    /// <summary>REPLY_ACK: the backend answered with a non-zero u64, i.e. it refused the request.</summary>
    Nack,
    /// <summary>The connection broke earlier; nothing more can be sent on it.</summary>
    Broken,
}

/// <summary>A vhost-user request that did not complete; the message names the request and what went wrong.</summary>
public sealed class VhostUserException : IOException
{
    public FrontendRequest Request { get; }
    public VhostUserFailure Failure { get; }

    public VhostUserException(FrontendRequest request, VhostUserFailure failure, string detail)
        : base($"vhost-user {RequestRules.NameOf(request)}: {detail}")
    {
        Request = request;
        Failure = failure;
    }
}
