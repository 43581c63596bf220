namespace Accelerator.Fuse.Tests;

public sealed class FuseOptionsTests
{
    [Fact]
    public void FuseSessionOptionsValidator_Defaults_Succeed()
        => Assert.True(new FuseSessionOptionsValidator().Validate(null, new FuseSessionOptions()).Succeeded);

    [Fact]
    public void FuseSessionOptionsValidator_InvalidOptions_NamesEveryFailure()
    {
        var options = new FuseSessionOptions { EntryTimeout = TimeSpan.FromSeconds(-1), RequestTimeout = TimeSpan.Zero, MaxBackground = 0, MinReaders = 4, MaxReaders = 2 };

        var result = new FuseSessionOptionsValidator().Validate(null, options);

        Assert.Equal(
            ["EntryTimeout must not be negative.", "RequestTimeout must be positive or null.", "MaxBackground must be 1 to 65535.", "MaxReaders must be MinReaders to 1024."],
            result.Failures);
    }

    [Fact]
    public void FuseSession_InvalidOptions_ArgumentExceptionWithTheValidatorsMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => FuseOptionsValidation.ThrowIfInvalid(
            new FuseSessionOptionsValidator(), new FuseSessionOptions { MaxWrite = 1 }, "FUSE session"));

        Assert.Equal("Invalid FUSE session options: MaxWrite must be 4 KiB to 16 MiB.", error.Message);
    }

    [Fact]
    public void FuseMountOptionsValidator_InvalidSessionAndMount_SessionFailuresPrefixed()
    {
        var options = new FuseMountOptions { FileSystemName = "a b", ReadAheadKilobytes = -1, InitTimeout = TimeSpan.Zero, Session = { MinReaders = 0 } };

        var result = new FuseMountOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "Session: MinReaders must be at least 1.",
                "FileSystemName must be a non-empty word.",
                "ReadAheadKilobytes must be 0 to 1048576 or null.",
                "InitTimeout must be positive and UnmountTimeout not negative.",
            ],
            result.Failures);
    }

    [Fact]
    public void FuseMountOptionsValidator_NoSession_Fails()
    {
        var result = new FuseMountOptionsValidator().Validate(null, new FuseMountOptions { Session = null! });

        Assert.True(result.Failed);
        Assert.Contains("Session", result.FailureMessage, StringComparison.Ordinal);
    }
}
