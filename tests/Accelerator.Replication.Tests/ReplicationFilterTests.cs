using System.Text;
using System.Text.RegularExpressions;
using Accelerator.Replication;

namespace Accelerator.Replication.Tests;

public sealed class ReplicationFilterTests
{
    [Theory]
    [InlineData("app", "app", "1.0", true)]
    [InlineData("app", "app", "latest", true)]
    [InlineData("app", "team/app", "1.0", false)]
    [InlineData("app:1.0", "app", "1.0", true)]
    [InlineData("app:1.0", "app", "1.01", false)]
    [InlineData("app:1.*", "app", "1.2.3", true)]
    [InlineData("app:1.?", "app", "1.2", true)]
    [InlineData("app:1.?", "app", "1.23", false)]
    [InlineData("team/*", "team/app", "v1", true)]
    [InlineData("team/*", "team/app/sub", "v1", false)]
    [InlineData("team/*", "team", "v1", false)]
    [InlineData("team/**", "team/app/sub", "v1", true)]
    [InlineData("team/**", "teamwork/app", "v1", false)]
    [InlineData("**/app", "app", "v1", true)]
    [InlineData("**/app", "a/b/app", "v1", true)]
    [InlineData("**/app", "a/b/myapp", "v1", false)]
    [InlineData("**", "a/b/c", "anything", true)]
    [InlineData("*", "a/b", "x", false)]
    [InlineData("*/app:latest", "team/app", "latest", true)]
    [InlineData("*/app:latest", "team/app", "latest2", false)]
    [InlineData("t?am/a*p", "team/ap", "x", true)]
    [InlineData("t?am/a*p", "t/am/ap", "x", false)]
    [InlineData("**:v?", "x/y", "v1", true)]
    [InlineData("app:V1", "app", "v1", false)]
    public void Matches_Glob_AsDocumented(string pattern, string repository, string tag, bool expected)
        => Assert.Equal(expected, ReplicationFilter.Parse(pattern).Matches(repository, tag));

    [Theory]
    [InlineData("app:1.0", "1.0-accel", true)]
    [InlineData("app:1.0", "1.0-accel-block", true)]
    [InlineData("app:1.0", "1.0-accelerated", false)]
    [InlineData("app:1.0", "1.0-x-accel", false)]
    [InlineData("app:1.0", "2.0-accel", false)]
    [InlineData("app:1.*", "1.4-accel-block", true)]
    [InlineData("app:latest", "-accel", false)]
    [InlineData("app:x-accel", "x-accel-accel", true)]
    public void Includes_AccelVariants_ComeAlongWithTheirTag(string pattern, string tag, bool expected)
        => Assert.Equal(expected, ReplicationFilter.Parse(pattern).Includes("app", tag));

    [Fact]
    public void Parse_Several_AnyMatches()
    {
        var filter = ReplicationFilter.Parse(["a:1", "b/**"]);

        Assert.True(filter.Matches("a", "1"));
        Assert.True(filter.Matches("b/c", "9"));
        Assert.False(filter.Matches("a", "2"));
        Assert.True(filter.MayInclude("a"));
        Assert.False(filter.MayInclude("c"));
        Assert.Null(filter.LiteralRepositories);
        Assert.Same(ReplicationFilter.All, ReplicationFilter.Parse(Array.Empty<string>()));
    }

    [Fact]
    public void LiteralRepositories_NoWildcardInRepositoryParts_NamesThem()
    {
        var filter = ReplicationFilter.Parse(["team/app:1.*", "team/app:latest", "other"]);

        Assert.Equal(["team/app", "other"], filter.LiteralRepositories);
    }

    [Theory]
    [InlineData("")]
    [InlineData(":tag")]
    [InlineData("app:")]
    [InlineData("App:1")]
    [InlineData("app:1:2")]
    [InlineData("app name")]
    [InlineData("app:tag/x")]
    [InlineData("app:t@g")]
    [InlineData("app[0-9]")]
    public void Parse_Invalid_FormatException(string pattern)
        => Assert.Throws<FormatException>(() => ReplicationFilter.Parse(pattern));

    [Fact]
    public void Parse_TooLong_FormatException()
        => Assert.Throws<FormatException>(() => ReplicationFilter.Parse(new string('a', 600)));

    /// <summary>Random globs and names against an independent regular-expression translation of the documented syntax.</summary>
    [Fact]
    public void Matches_RandomGlobs_AgreeWithRegexOracle()
    {
        var random = new Random(7);
        const string repositoryAlphabet = "ab/.-*?";
        const string tagAlphabet = "ab.-*?";
        for (int i = 0; i < 4000; i++)
        {
            string repositoryGlob = RandomString(random, repositoryAlphabet, 1, 8);
            string tagGlob = RandomString(random, tagAlphabet, 1, 5);
            ReplicationFilter filter;
            try
            {
                filter = ReplicationFilter.Parse($"{repositoryGlob}:{tagGlob}");
            }
            catch (FormatException)
            {
                continue;
            }

            var oracle = new Regex("^" + ToRegex(repositoryGlob) + ":" + ToRegex(tagGlob) + "$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            for (int j = 0; j < 10; j++)
            {
                string repository = RandomString(random, "ab/.-", 1, 8);
                string tag = RandomString(random, "ab.-", 1, 5);
                Assert.True(
                    oracle.IsMatch($"{repository}:{tag}") == filter.Matches(repository, tag),
                    $"{repositoryGlob}:{tagGlob} vs {repository}:{tag}");
            }
        }
    }

    private static string ToRegex(string glob)
    {
        var regex = new StringBuilder();
        for (int i = 0; i < glob.Length; i++)
        {
            if (glob[i] == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                while (i + 1 < glob.Length && glob[i + 1] == '*')
                {
                    i++;
                }

                if (i + 1 < glob.Length && glob[i + 1] == '/')
                {
                    i++;
                    regex.Append("(?:[^:]*/)?");
                }
                else
                {
                    regex.Append("[^:]*");
                }
            }
            else
            {
                regex.Append(glob[i] switch
                {
                    '*' => "[^/:]*",
                    '?' => "[^/:]",
                    char c => Regex.Escape(c.ToString()),
                });
            }
        }

        return regex.ToString();
    }

    private static string RandomString(Random random, string alphabet, int min, int max)
    {
        var text = new char[random.Next(min, max + 1)];
        for (int i = 0; i < text.Length; i++)
        {
            text[i] = alphabet[random.Next(alphabet.Length)];
        }

        return new string(text);
    }
}
