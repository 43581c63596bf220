using System.Text;
using Accelerator.Snapshotter.Filters;
using Accelerator.Snapshotter.Metadata;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Snapshotter.Tests.Filters;

/// <summary>Random and mutated filters: a clean InvalidArgument or a filter that can be evaluated, nothing else.</summary>
public sealed class SnapshotFilterFuzzTests
{
    private static readonly string[] Seeds =
    [
        "name==a", "kind==committed,parent==\"x y\"", "labels.\"a.b\"~=/^v[0-9]+$/", "labels.x", "labels.k!=v,name~=\"q\\\"\"",
    ];

    private static readonly SnapshotRecord Record = new(
        1, "a", "p", SnapshotKind.Committed, new Dictionary<string, string> { ["a.b"] = "v1", ["x"] = "" }, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    [Fact]
    public void Parse_RandomAndMutatedInput_CleanErrorOrUsableFilter()
    {
        var random = new Random(1414);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = i % 2 == 0
                ? FuzzInput.Mutate(Encoding.UTF8.GetBytes(Seeds[random.Next(Seeds.Length)]), random)
                : FuzzInput.RandomBytes(random, 64);
            string text = Encoding.UTF8.GetString(input);
            try
            {
                _ = SnapshotFilter.Parse([text]).Matches(Record);
            }
            catch (SnapshotException ex)
            {
                Assert.Equal(SnapshotError.InvalidArgument, ex.Error);
            }
        }
    }

    [Theory]
    [InlineData("name==a", true)]
    [InlineData("name!=a", false)]
    [InlineData("labels.\"a.b\"==v1", true)]
    [InlineData("labels.a.b==v1", true)]
    [InlineData("labels.x", true)]
    [InlineData("labels.y", false)]
    [InlineData("labels.y!=z", true)]
    [InlineData("kind==committed , parent==p", true)]
    [InlineData("kind==active", false)]
    [InlineData("labels.\"a.b\"~=^v\\d$", true)]
    [InlineData("unknown==x", false)]
    public void Matches_AsContainerdFilters(string filter, bool expected)
        => Assert.Equal(expected, SnapshotFilter.Parse([filter]).Matches(Record));
}
