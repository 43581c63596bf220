namespace Accelerator.Fuse.Takeover;

/// <summary>One connection the holder keeps, as <see cref="FuseHolderClient.ListAsync"/> reports it.</summary>
/// <param name="Key">The key it is held under.</param>
/// <param name="OwnerPid">The pid of the connected owner, or null when its owner is gone (the connection waits for a claimant).</param>
/// <param name="State">What the owner deposited with it.</param>
public sealed record FuseHeldSummary(string Key, int? OwnerPid, string State);
