using System.Text;

namespace Accelerator.Snapshots.Storage;

/// <summary>
/// Chain IDs (OCI image spec, config.md "Layer ChainID"): ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) =
/// sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)). A chain ID names a layer together with everything under it, so two
/// images share a snapshot layer exactly when they share the chain ID.
/// </summary>
internal static class ChainId
{
    public static IReadOnlyList<Digest> Compute(IReadOnlyList<Digest> diffIds)
    {
        var chain = new Digest[diffIds.Count];
        for (int i = 0; i < diffIds.Count; i++)
        {
            chain[i] = i == 0 ? diffIds[0] : Digest.Compute(Encoding.ASCII.GetBytes($"{chain[i - 1]} {diffIds[i]}"));
        }

        return chain;
    }
}
