using FsCheck;
using FsCheck.Fluent;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Notification;

/// <summary>
/// No lost wake-up in interrupt mode (issue 14), as a property (FsCheck 3 with xunit): over a real Unix socket with
/// HotPath's frontend, the backend runs hp-fwd's idle sequence (poll until empty, drain old kicks, enable guest
/// notifications, re-check the ring, wait on the kick fd with a timeout, drain, disable, poll) and the guest posts
/// one buffer at a generated point of it: before the last poll, between the poll and the enable, between the enable
/// and the re-check, between the re-check and the wait, during the wait (from another thread, 0-2 ms late), or not
/// at all. A buffer posted before or during the sequence must always be served: seen by the re-check or waking the
/// wait by its kick, never left until the timeout. Each case runs rounds with busy phases between them (kicks off,
/// packets flowing), on small rings so that indexes and packed wrap counters turn over. Split and packed, with and
/// without EVENT_IDX. A second property races a real backend thread against the guest.
/// </summary>
[Collection(SerialCollection.Name)]
public class LostWakeupPropertyTests(ITestOutputHelper output)
{
    /// <summary>Where the guest posts its buffer in the backend's idle sequence.</summary>
    public enum PostAt { BeforePoll, BeforeEnable, BeforeRecheck, BeforeWait, DuringWait, Never }

    public sealed record Round(int Busy, PostAt At)
    {
        public override string ToString() => $"({Busy}, {At})";
    }

    public sealed record Case(uint RingSize, Round[] Rounds)
    {
        public override string ToString() => $"ring {RingSize}: {string.Join(" ", Rounds.Select(r => r.ToString()))}";
    }

    private static readonly Gen<Case> Cases =
        from size in Gen.Elements(8u, 16u, 64u)
        from rounds in Gen.Choose(1, 12).SelectMany(k =>
            (from busy in Gen.Frequency((3, Gen.Constant(0)), (4, Gen.Choose(1, 4)))
             from at in Gen.Elements(Enum.GetValues<PostAt>())
             select new Round(busy, at)).ArrayOf(k))
        select new Case(size, rounds);

    /// <summary>Longest wait for a kick that must come (a lost wake-up fails long before it).</summary>
    private const int KickTimeoutMs = 5000;
    /// <summary>The wait of a round in which the guest posts nothing.</summary>
    private const int QuietWaitMs = 2;

    public static IEnumerable<object[]> Rings =>
        from packed in new[] { false, true } from eventIdx in new[] { false, true } select new object[] { packed, eventIdx };

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_buffer_posted_before_or_during_the_idle_sequence_is_always_served(bool packed, bool eventIdx)
    {
        int cases = 0, rounds = 0;
        Property prop = Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            cases++;
            rounds += c.Rounds.Length;
            string? failure = Run(c, packed, eventIdx);
            if (failure != null) output.WriteLine($"counterexample {c}: {failure}");
            return failure == null;
        });
        ulong seed = 0x1D1E_0000UL | (packed ? 2UL : 0) | (eventIdx ? 1UL : 0);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40).WithReplay(seed, seed * 0x9E37_79B9UL | 1), prop);
        output.WriteLine($"{cases} cases, {rounds} rounds (packed={packed}, event_idx={eventIdx})");
    }

    /// <summary>
    /// The same sequence run for real on its own thread, in a loop, while the guest (the test thread) posts buffers
    /// one at a time after generated pauses of 0-200 us: the two race as a backend and a guest do, including the
    /// window where the guest's index store and the backend's enable are both in flight (the fences' job). Every
    /// buffer must be served, and a wait may only time out with the ring empty (a timeout with a buffer waiting is
    /// a lost wake-up).
    /// </summary>
    [Theory]
    [MemberData(nameof(Rings))]
    public void A_guest_racing_the_sleeping_backend_is_never_left_waiting(bool packed, bool eventIdx)
    {
        Gen<int[]> pauses = Gen.Choose(10, 100).SelectMany(n => Gen.Frequency((1, Gen.Constant(0)), (3, Gen.Choose(1, 200))).ArrayOf(n));
        int cases = 0, sleeps = 0, posts = 0;
        Property prop = Prop.ForAll(pauses.ToArbitrary(), p =>
        {
            cases++;
            posts += p.Length;
            string? failure = RunConcurrent(p, packed, eventIdx, ref sleeps);
            if (failure != null) output.WriteLine($"counterexample pauses [{string.Join(",", p)}] us: {failure}");
            return failure == null;
        });
        ulong seed = 0x2D1E_0000UL | (packed ? 2UL : 0) | (eventIdx ? 1UL : 0);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(15).WithReplay(seed, seed * 0x9E37_79B9UL | 1), prop);
        output.WriteLine($"{cases} cases, {posts} buffers, {sleeps} sleeps on the kick fd (packed={packed}, event_idx={eventIdx})");
    }

    private static string? RunConcurrent(int[] pausesUs, bool packed, bool eventIdx, ref int sleeps)
    {
        using var rig = new KickSocketRig("race", packed, eventIdx);
        int served = 0, lost = 0, naps = 0;
        var stop = new ManualResetEventSlim();
        var backend = new Thread(() =>
        {
            const int q = KickSocketRig.TxVring;
            while (!stop.IsSet)
            {
                Volatile.Write(ref served, served + rig.PollUntilEmpty());
                rig.Device.DrainKick(q);
                rig.Device.EnableGuestNotification(q, true);
                if (rig.Device.RxQueueCount(q) == 0)
                {
                    naps++;
                    if (!rig.WaitForKick(1000) && rig.Device.RxQueueCount(q) > 0) lost++;
                    rig.Device.DrainKick(q);
                }
                rig.Device.EnableGuestNotification(q, false);
            }
        });
        backend.Start();
        foreach (int us in pausesUs)
        {
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + us * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
            rig.GuestSend();
        }
        bool all = SpinWait.SpinUntil(() => Volatile.Read(ref served) == pausesUs.Length, KickSocketRig.Wait);
        stop.Set();
        rig.Frontend.Notifiers[KickSocketRig.TxVring].Kick();   // end the backend's current wait
        backend.Join();
        sleeps += naps;
        if (lost > 0) return $"{lost} waits timed out with a buffer waiting (lost wake-ups)";
        return all ? null : $"{Volatile.Read(ref served)} of {pausesUs.Length} buffers served within {KickSocketRig.Wait.TotalSeconds} s";
    }

    /// <summary>Runs the rounds of <paramref name="c"/>; null when every buffer was served, else what went wrong.</summary>
    private static string? Run(Case c, bool packed, bool eventIdx)
    {
        using var rig = new KickSocketRig("wake", packed, eventIdx, c.RingSize);
        for (int i = 0; i < c.Rounds.Length; i++)
        {
            Round r = c.Rounds[i];
            string? failure = RunRound(rig, r);
            if (failure != null) return $"round {i} {r}: {failure}";
        }
        return null;
    }

    private static string? RunRound(KickSocketRig rig, Round r)
    {
        // Busy phase: kicks are off, packets flow.
        if (r.Busy > 0)
        {
            rig.GuestSend(r.Busy);
            int got = rig.PollUntilEmpty();
            if (got != r.Busy) return $"busy phase: {got} of {r.Busy} packets served";
        }
        int expected = r.At == PostAt.Never ? 0 : 1, served = 0;

        if (r.At == PostAt.BeforePoll) rig.GuestSend();
        served += rig.PollUntilEmpty();                                  // 1. poll until empty
        if (r.At == PostAt.BeforeEnable) rig.GuestSend();
        rig.Device.DrainKick(KickSocketRig.TxVring);                     //    old kicks would end the wait at once
        if (!rig.Device.EnableGuestNotification(KickSocketRig.TxVring, true)) return "enable failed";   // 2.
        if (r.At == PostAt.BeforeRecheck) rig.GuestSend();
        if (rig.Device.RxQueueCount(KickSocketRig.TxVring) == 0)         // 3. re-check
        {
            if (r.At == PostAt.BeforeWait) rig.GuestSend();
            Thread? late = null;
            if (r.At == PostAt.DuringWait)
            {
                int delay = Random.Shared.Next(3);
                late = new Thread(() => { Thread.Sleep(delay); rig.GuestSend(); });
                late.Start();
            }
            // A buffer the poll took leaves nothing to wake for; any other posted buffer is waiting now (the re-check
            // missed it, or it comes later): its kick must end the wait.
            bool mustWake = r.At is not (PostAt.Never or PostAt.BeforePoll);
            long t0 = Environment.TickCount64;
            bool woke = rig.WaitForKick(mustWake ? KickTimeoutMs : QuietWaitMs);   // 4. sleep on the kick fd
            late?.Join();
            if (mustWake && !woke)
                return $"lost wake-up: the buffer was posted {r.At} and the wait timed out after {Environment.TickCount64 - t0} ms";
            rig.Device.DrainKick(KickSocketRig.TxVring);                 // 5. drain
        }
        if (!rig.Device.EnableGuestNotification(KickSocketRig.TxVring, false)) return "disable failed";   // 6.
        served += rig.PollUntilEmpty();                                  // 7. poll
        return served == expected ? null : $"{served} packets served, {expected} posted";
    }
}
