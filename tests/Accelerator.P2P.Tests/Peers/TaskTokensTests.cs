using Accelerator.P2P.Peers;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.P2P.Tests.Peers;

public sealed class TaskTokensTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Accepts_RenewedToken_BothValidUntilEachExpires()
    {
        var tokens = new TaskTokens("old", 60_000, _time);
        _time.Advance(TimeSpan.FromSeconds(30));
        tokens.Add("new", 60_000);

        Assert.Equal("new", tokens.Current);
        Assert.True(tokens.Accepts("old"));
        Assert.True(tokens.Accepts("new"));

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(tokens.Accepts("old"));
        Assert.True(tokens.Accepts("new"));

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(tokens.Accepts("new"));
    }

    [Fact]
    public void Accepts_TokenWithoutExpiry_AcceptedForeverAndNothingElse()
    {
        var tokens = new TaskTokens("forever", 0, _time);
        _time.Advance(TimeSpan.FromDays(365));

        Assert.True(tokens.Accepts("forever"));
        Assert.False(tokens.Accepts(""));
        Assert.False(tokens.Accepts("forever2"));
        Assert.False(tokens.Accepts("Forever"));
        Assert.False(tokens.Accepts(new string('x', 257)));
    }

    [Fact]
    public void Add_SameTokenAgainOrManyTokens_ExpiryUpdatedAndOnlyTheNewestKept()
    {
        var tokens = new TaskTokens("t0", 1_000, _time);
        tokens.Add("t0", 10_000);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(tokens.Accepts("t0"));

        for (int i = 1; i <= 5; i++)
        {
            tokens.Add($"t{i}", 60_000);
        }

        Assert.Equal("t5", tokens.Current);
        Assert.False(tokens.Accepts("t1"));
        Assert.True(tokens.Accepts("t2"));
        Assert.True(tokens.Accepts("t5"));
    }
}
