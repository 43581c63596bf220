namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// Tests that start many <c>accel</c> processes run alone: on a small machine they would starve the in-process swarm
/// tests running beside them (and be starved by them) into timeouts that test nothing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "P2P processes";
}
