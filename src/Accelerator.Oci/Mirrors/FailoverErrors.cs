using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>What went wrong at each host of a failover, turned into one exception when every host has been tried.</summary>
internal sealed class FailoverErrors
{
    private readonly List<string> _messages = [];
    private int _notFound;
    private int _attempts;
    private DigestMismatchException? _mismatch;
    private Exception? _last;

    public void NotFound(MirrorRoute route)
    {
        _attempts++;
        _notFound++;
        _messages.Add($"{route.SourceName}: not found");
    }

    public void Failed(MirrorRoute route, string reason, Exception error)
    {
        _attempts++;
        _last = error;
        if (error is DigestMismatchException mismatch)
        {
            _mismatch = mismatch;
        }

        _messages.Add($"{route.SourceName}: {reason}: {error.Message}");
    }

    /// <summary>
    /// The exception for <paramref name="what"/>: not found when every host said so, a digest mismatch when that is what
    /// the last bad answer was, otherwise a <see cref="RegistryException"/> listing each host's failure.
    /// </summary>
    public Exception ToException(string what, string registry)
    {
        if (_attempts > 0 && _notFound == _attempts)
        {
            return new BlobNotFoundException(what, $"any host of {registry}'s mirror set");
        }

        string summary = $"{what}: every host of {registry}'s mirror set failed ({string.Join("; ", _messages)}).";
        if (_mismatch is not null && _last is DigestMismatchException)
        {
            return new DigestMismatchException(_mismatch.Expected, _mismatch.Actual, summary);
        }

        return new RegistryException(summary, inner: _last);
    }
}
