using HotPath.Engine.Iommu;
using HotPath.Fuzz.Core;
using HotPath.Protocol.Control;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// IOTLB message sequences through the real control plane (<see cref="IotlbRig"/>: a Unix socket, the session, the
/// IOTLB_MSG handler). After every message: it was acked exactly when the model's door accepts it (a refusal is
/// nacked and counted as BadIotlbMessage, and changes nothing but a wrapping invalidation's clear to the end); the
/// device's cache passes <see cref="IotlbCheck.State"/>; and the views the bursts translate through agree with the
/// model for every byte looked at: mapped, readable and writable exactly where the model says, and leading to the
/// guest physical address the model's user address has in the memory table (what dirty logging marks).
/// </summary>
public sealed class IotlbMessageProperty : FuzzProperty<IotlbCase>
{
    public override string Name => "iotlb-messages";

    public override FsCheck.Arbitrary<IotlbCase> Cases => IotlbGen.Cases(maxFlood: 64);

    protected override Verdict Run(IotlbCase c)
    {
        using var rig = new IotlbRig();
        var model = new IotlbModel();
        long refusedBefore = ControlCounters.Refused(ControlError.BadIotlbMessage);
        long refused = 0;
        for (int i = 0; i < c.Ops.Length; i++)
        {
            IotlbOp op = c.Ops[i];
            for (int k = 0; k < op.Repeat; k++)
            {
                IotlbOp m = op.At(k);
                ulong user = rig.Resolve(m);
                string? refusal = IotlbModel.Refusal(m, user, rig.InRegion);
                bool acked = rig.Send(m, user);
                Expect.True(acked == (refusal == null),
                    $"op {i} {m.ToCode()}: the backend {(acked ? "acked" : "nacked")} it; the model says {refusal ?? "accept"}");
                if (!acked) refused++;
                Coverage.Hit(acked ? $"{Name}.acked" : $"{Name}.nacked");
                model.Apply(m, user, refusal);
            }
            string where = $"after op {i} {op.ToCode()}";
            IotlbCheck.State(Name, rig.Device.Iotlb, model, c.Probes, exact: rig.Device.Iotlb.Evictions == 0, where);
            Views(rig, model, c.Probes, where);
        }
        Expect.Equal(refused, ControlCounters.Refused(ControlError.BadIotlbMessage) - refusedBefore, "refusals counted");
        return Verdict.Ok;
    }

    /// <summary>The bursts' views against the model at every probe's first and last byte and every entry's ends.</summary>
    private static void Views(IotlbRig rig, IotlbModel model, IotlbProbe[] probes, string where)
    {
        IotlbViews? views = rig.Device.IotlbViews;
        Expect.True(views != null, $"{where}: no IOTLB views while IOMMU_PLATFORM is negotiated");
        var at = new List<ulong>();
        foreach (IotlbProbe p in probes) at.AddRange(new[] { p.Iova, p.Iova + (p.Len - 1) });
        foreach (IotlbEntry e in rig.Device.Iotlb.Entries) at.AddRange(new[] { e.Iova, e.Last });
        foreach (ulong b in at)
        {
            byte perm = model.Perm(b);
            string what = $"{where}: views at 0x{b:x} (model perm {perm})";
            Expect.Equal(perm != 0, views!.Any.FindRegion(b) >= 0, $"{what}: mapped");
            Expect.Equal((perm & IotlbPerm.Read) != 0, views.Read.FindRegion(b) >= 0, $"{what}: readable");
            Expect.Equal((perm & IotlbPerm.Write) != 0, views.Write.FindRegion(b) >= 0, $"{what}: writable");
            Expect.Equal(perm != 0 ? rig.GpaOf(model.User(b)) : ulong.MaxValue, views.IovaToGpa(b), $"{what}: guest physical address");
        }
    }
}
