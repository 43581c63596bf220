using System.Text;
using Accelerator.Hosting.Layout;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Hosting.Tests.Layout;

public sealed class HttpByteRangeTests
{
    [Theory]
    [InlineData("bytes=0-99", 1000, "Satisfiable", 0, 100)]
    [InlineData("bytes=100-", 1000, "Satisfiable", 100, 900)]
    [InlineData("bytes=900-5000", 1000, "Satisfiable", 900, 100)]
    [InlineData("bytes=-10", 1000, "Satisfiable", 990, 10)]
    [InlineData("bytes=-5000", 1000, "Satisfiable", 0, 1000)]
    [InlineData(" BYTES=5-9 ", 1000, "Satisfiable", 5, 5)]
    [InlineData("bytes=1000-", 1000, "Unsatisfiable", 0, 0)]
    [InlineData("bytes=-0", 1000, "Unsatisfiable", 0, 0)]
    [InlineData("bytes=0-", 0, "Unsatisfiable", 0, 0)]
    [InlineData("", 1000, "None", 0, 0)]
    [InlineData("bytes=9-5", 1000, "None", 0, 0)]
    [InlineData("bytes=0-1,5-6", 1000, "None", 0, 0)]
    [InlineData("items=0-1", 1000, "None", 0, 0)]
    [InlineData("bytes=a-b", 1000, "None", 0, 0)]
    [InlineData("bytes=+1-2", 1000, "None", 0, 0)]
    [InlineData("bytes=99999999999999999999-", 1000, "None", 0, 0)]
    [InlineData("bytes=-", 1000, "None", 0, 0)]
    [InlineData("bytes = 5-9", 1000, "None", 0, 0)]
    public void Parse_Header_GivesTheRange(string header, long length, string kind, long start, long count)
    {
        var range = HttpByteRange.Parse(header, length);

        Assert.Equal(new HttpByteRange(Enum.Parse<HttpByteRangeKind>(kind), start, count), range);
    }

    [Fact]
    public void Parse_RandomAndMutatedHeaders_StaysInsideTheRepresentation()
    {
        var random = new Random(2026);
        byte[][] seeds = [.. new[] { "bytes=0-99", "bytes=-10", "bytes=100-", "bytes=1-2,3-4" }.Select(Encoding.ASCII.GetBytes)];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = i % 3 == 0 ? FuzzInput.RandomBytes(random, 64) : FuzzInput.Mutate(seeds[random.Next(seeds.Length)], random);
            long length = random.Next(0, 2) == 0 ? random.Next(0, 200) : random.NextInt64(0, long.MaxValue);
            var range = HttpByteRange.Parse(Encoding.Latin1.GetString(input), length);

            if (range.Kind == HttpByteRangeKind.Satisfiable)
            {
                Assert.InRange(range.Start, 0, length - 1);
                Assert.InRange(range.Length, 1, length - range.Start);
            }
            else
            {
                Assert.Equal(0, range.Start);
                Assert.Equal(0, range.Length);
            }
        }
    }
}
