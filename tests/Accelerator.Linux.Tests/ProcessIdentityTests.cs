namespace Accelerator.Linux.Tests;

/// <summary><see cref="ProcessIdentity"/> and <see cref="DirectoryOwner"/>: a process named by ID and start time, so a recycled ID is not mistaken for it.</summary>
public sealed class ProcessIdentityTests
{
    [Fact]
    public void TryParseStat_CommandWithSpacesAndParentheses_StartTimeFromField22()
    {
        const string Stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 987654 1000 200 18446744073709551615";

        Assert.True(ProcessIdentity.TryParseStat(Stat, out var identity));
        Assert.Equal(new ProcessIdentity(4242, 987654), identity);
        Assert.False(ProcessIdentity.TryParseStat("4242 (short) S 1", out _));
        Assert.False(ProcessIdentity.TryParseStat("garbage", out _));
    }

    [Fact]
    public void Current_IsRunning_AnotherStartTimeOrAnExitedProcessIsNot()
    {
        var current = ProcessIdentity.Current;

        Assert.Equal(Environment.ProcessId, current.Pid);
        Assert.True(current.IsRunning());
        Assert.False((current with { StartTime = current.StartTime + 1 }).IsRunning());
        using var child = System.Diagnostics.Process.Start("true")!;
        var identity = ProcessIdentity.TryGet(child.Id);
        child.WaitForExit();
        Assert.False(identity?.IsRunning() ?? false);
    }

    [Fact]
    public void TryParse_TextOfToString_RoundTripsAndRejectsGarbage()
    {
        var identity = new ProcessIdentity(17, 123456789);

        Assert.True(ProcessIdentity.TryParse(identity + "\n", out var parsed));
        Assert.Equal(identity, parsed);
        Assert.False(ProcessIdentity.TryParse("17", out _));
        Assert.False(ProcessIdentity.TryParse("-1 5", out _));
        Assert.False(ProcessIdentity.TryParse(null, out _));
    }

    [Fact]
    public void DirectoryOwner_RecordThenRead_ThisProcessAndNullWithoutOrForALink()
    {
        string directory = Directory.CreateTempSubdirectory("accel-owner-").FullName;
        try
        {
            Assert.Null(DirectoryOwner.Read(directory));
            DirectoryOwner.Record(directory);
            Assert.Equal(ProcessIdentity.Current, DirectoryOwner.Read(directory));

            string other = Directory.CreateTempSubdirectory("accel-owner-link-").FullName;
            File.Move(Path.Combine(directory, DirectoryOwner.FileName), Path.Combine(other, "record"));
            File.CreateSymbolicLink(Path.Combine(directory, DirectoryOwner.FileName), Path.Combine(other, "record"));
            Assert.Null(DirectoryOwner.Read(directory));
            Directory.Delete(other, recursive: true);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
